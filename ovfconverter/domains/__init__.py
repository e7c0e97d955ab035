"""Layer 4: the libvirt and xen targets (``convert SOURCE --to libvirt|xen``):
a domain description (libvirt domain XML, Xen ``xl.cfg``) and the disks it
names, in one folder.  Sources are read by the interim reader the OpenStack
target uses (:mod:`ovfconverter.glance.sources`) until the hub's Source
registry replaces it."""
