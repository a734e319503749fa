"""The main job: collect → train Grasp2Vec → calibrate its reward → train a policy on it → benchmark.

:mod:`pipeline.presets` says how much of each stage to run; :mod:`pipeline.run` chains the stages,
each one library call with a config, and resumes a killed run. The command is ``python -m runs.pipeline``.
"""
