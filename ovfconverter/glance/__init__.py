"""Glance, the OpenStack Image service: connecting to a cloud and uploading
the images of the OpenStack target (openstacksdk, the optional extra
``ovfconverter[openstack]``)."""
