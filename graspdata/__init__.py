"""Self-supervised grasp data: collection on local processes or Ray, HDF5 shards, readers.

Modules: ``config`` (:class:`CollectConfig`), ``collect`` (the driver), ``worker`` / ``episode`` /
``policies`` (what a worker runs), ``pool`` and ``ray_pool`` (where it runs), ``layout`` (the shard
format), ``card`` (``card.json``), ``folder`` (validating a dataset folder), ``reader`` (training
readers), ``ground_truth`` (evaluation only), ``importer`` (image folders), ``summary`` (inspection).
Commands and the on-disk layout: ``docs/datasets.md``.
"""
