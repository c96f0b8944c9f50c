// Package optim updates parameters from their gradients: SGD with momentum and
// parameter groups (SimSiam's predictor keeps a fixed learning rate), LARS for the
// linear probe, AdamW for ViTs, step-based cosine and warm-up schedules, and the
// exponential moving average that makes BYOL's and MoCo's target networks.
package optim
