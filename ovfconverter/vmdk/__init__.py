"""The streamOptimized VMDK stream, ovfconverter's own: its on-disk
structures (:mod:`~ovfconverter.vmdk.format`), a reader to raw
(:mod:`~ovfconverter.vmdk.reader`) and a one-pass writer from raw
(:mod:`~ovfconverter.vmdk.writer`)."""
