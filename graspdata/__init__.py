"""Self-supervised grasp data: collection on local processes or Ray, HDF5 shards, readers.

See ``docs/datasets.md`` for the commands and the on-disk layout.
"""
