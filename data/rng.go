package data

import "math/rand/v2"

// mix64 is the SplitMix64 finaliser: a bijective hash that turns nearby
// integers (steps, indices) into unrelated 64-bit seeds.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// SampleSeeds derives the two PCG seed words of one sample from the run seed,
// the training step and the sample's position in the batch, so every sample's
// augmentation is fixed by (seed, step, index) and independent of scheduling.
func SampleSeeds(seed uint64, step, index int) (uint64, uint64) {
	a := mix64(seed ^ mix64(uint64(step)))
	return a, mix64(a ^ mix64(uint64(index)+0x632be59bd9b4e019))
}

// sampleRNG is a reusable generator re-seeded per sample without allocating.
type sampleRNG struct {
	pcg *rand.PCG
	*rand.Rand
}

func newSampleRNG() sampleRNG {
	p := rand.NewPCG(0, 0)
	return sampleRNG{pcg: p, Rand: rand.New(p)}
}

// reseed positions the generator at the stream of sample (step, index).
func (r sampleRNG) reseed(seed uint64, step, index int) {
	r.pcg.Seed(SampleSeeds(seed, step, index))
}
