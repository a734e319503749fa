"""The instance-grasping benchmark: rows and trials (:mod:`benchmark.tasks`), running them on worker
processes or Ray (:mod:`benchmark.runner`), tables, JSON and charts (:mod:`benchmark.report`), and the
privileged grasp's headroom (:mod:`benchmark.headroom`). The command is ``python -m runs.benchmark``.
"""
