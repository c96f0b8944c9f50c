package main

import "github.com/siam-ssl/siam/train"

// defaultMonitor is the collapse + k-NN monitor used by --monitor-every.
func defaultMonitor() train.Monitor { return nil }
