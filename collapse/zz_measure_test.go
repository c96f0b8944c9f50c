package collapse

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func cpuSec() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func TestMeasure(t *testing.T) {
	if os.Getenv("MEASURE") == "" {
		t.Skip()
	}
	const n, d = 50000, 512
	x := RandomFeatures(n, d, 1)
	for range 3 {
		c0, w0 := cpuSec(), time.Now()
		st, _ := rowStats(x, n, d, false)
		c1, w1 := cpuSec(), time.Now()
		cov := covariance32(x, n, d, st.mean, nil)
		c2, w2 := cpuSec(), time.Now()
		symEigenvalues(cov, d)
		c3, w3 := cpuSec(), time.Now()
		t.Logf("stats wall %.3f cpu %.3f | cov wall %.3f cpu %.3f | eig wall %.3f cpu %.3f", w1.Sub(w0).Seconds(), c1-c0, w2.Sub(w1).Seconds(), c2-c1, w3.Sub(w2).Seconds(), c3-c2)
	}
	med, secs, r, err := BenchSpectrum(n, d, 5, 1)
	t.Logf("BenchSpectrum median %.3f s, runs %v, AUC %.4f, err %v", med, secs, r.AUC, err)
}
