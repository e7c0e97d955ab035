"""The hub's pure mappings: each system's native model <-> the neutral
:class:`~ovfconverter.model.machine.Machine`.

One module per system (``ovf``, ``ganeti``, ``openstack``...), each
importing only :mod:`ovfconverter.model` and :mod:`ovfconverter.errors`: no
I/O, no options of any command, only values in and values out.  Readers
and writers of files (layer 2) and pipelines (layer 4) call them.
"""
