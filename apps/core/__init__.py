"""What every domain uses and none owns: the audit trail, page helpers, admin base classes.

The bottom layer: nothing here imports another of Modelyard's apps."""
