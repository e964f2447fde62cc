"""TalkinNeRF: animatable neural fields for full-body talking humans."""

__version__ = "0.1.0"
