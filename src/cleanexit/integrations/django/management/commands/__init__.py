"""``manage.py cleanexit``."""

__all__: list[str] = []
