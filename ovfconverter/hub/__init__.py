"""The hub: pure mappings between each system's native model and the neutral
:class:`~ovfconverter.model.machine.Machine` (imports only ``model`` and
``errors``)."""
