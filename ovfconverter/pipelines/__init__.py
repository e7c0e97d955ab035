"""Layer 4: the seam every conversion goes through.

A conversion is a :class:`~ovfconverter.pipelines.source.Source` (opens a
path, gives a :class:`~ovfconverter.model.machine.Machine`, its warnings,
and the bytes of each image) and a
:class:`~ovfconverter.pipelines.target.Target` (a pure plan from the
machine and its options, then a write), run by
:func:`~ovfconverter.pipelines.convert.convert` inside one
:class:`~ovfconverter.pipelines.run.Run`.  Sources are registered in
:mod:`ovfconverter.sources`, targets in :mod:`ovfconverter.targets`.
"""
