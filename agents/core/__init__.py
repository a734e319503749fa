"""What every learner shares: episodes, relabeling, the trainer's schedule, evaluation, CEM, goal features."""
