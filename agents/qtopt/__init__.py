"""QT-Opt over grasp poses: a Q-network scores (scene, goal heatmap, pose); CEM picks the pose."""
