// Package tbevent writes TensorBoard event files (events.out.tfevents.*), so a
// siam run opens in `tensorboard --logdir runs/` beside PyTorch and TensorFlow
// runs: scalars (loss, learning rate, collapse AUC, RankMe, k-NN accuracy...) and
// histograms (the singular-value spectrum at each monitored step).
//
// # File format
//
// An event file is a TFRecord file: a sequence of records, each
//
//	uint64 length          little-endian
//	uint32 masked_crc32c(length bytes)
//	byte   data[length]    one serialised Event protobuf
//	uint32 masked_crc32c(data)
//
// where crc32c is CRC-32 with the Castagnoli polynomial and
// masked(c) = ((c >> 15) | (c << 17)) + 0xa282ead8 (mod 2^32), as
// tensorflow/core/lib/hash/crc32c.h defines it. The first record is an Event whose
// file_version is "brain.Event:2"; TensorBoard reads every file of a folder in
// name order, and a SessionLog START event at step s makes it discard the events
// of earlier files at steps >= s (how a resumed run replaces the steps it redoes).
//
// # Protobuf messages
//
// Only the messages siam writes are encoded, by hand with
// google.golang.org/protobuf/encoding/protowire (no generated code for the whole
// TensorFlow proto set). Field numbers, checked against tensorboard/compat/proto
// (event.proto, summary.proto, histogram.proto):
//
//	Event          wall_time=1 (double), step=2 (int64), file_version=3 (string),
//	               summary=5 (Summary), session_log=7 (SessionLog)
//	SessionLog     status=1 (enum: START=1, STOP=2, CHECKPOINT=3), msg=3 (string)
//	Summary        value=1 (repeated Value)
//	Summary.Value  tag=1 (string), simple_value=2 (float), histo=5 (HistogramProto)
//	HistogramProto min=1, max=2, num=3, sum=4, sum_squares=5 (double),
//	               bucket_limit=6, bucket=7 (packed repeated double)
//
// Histogram bucket i counts values in (bucket_limit[i-1], bucket_limit[i]]
// (bucket 0 from -DBL_MAX), as HistogramProto documents.
package tbevent
