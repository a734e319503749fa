"""SAC (stable-baselines3) over grasp poses, with relabeling and an exported actor for loading."""
