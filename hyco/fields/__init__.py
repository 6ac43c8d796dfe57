"""Field specifications and the one converter between PhiFlow ``Field`` states and tensors."""

from hyco.fields.converter import FieldTensorConverter
from hyco.fields.specs import FieldSpec, padding_mode, parse_boundary

__all__ = ["FieldSpec", "FieldTensorConverter", "padding_mode", "parse_boundary"]
