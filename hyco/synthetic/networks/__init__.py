"""Built-in networks: each module registers itself (``@register_network``) when the registry
first looks one up."""
