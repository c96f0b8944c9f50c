package main

import "github.com/siam-ssl/siam/train"

// defaultMonitor is the collapse + k-NN monitor used by --monitor-every: every M
// steps, AUC/RankMe on --monitor-samples training images and the weighted 200-NN
// accuracy on up to 2,000 validation images (train.NewMonitor).
func defaultMonitor() train.MonitorFactory { return train.NewMonitor }
