package tbevent

import (
	"encoding/binary"
	"hash/crc32"
)

// castagnoli is the CRC-32C table TFRecord checksums use.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskDelta is added to the rotated CRC (tensorflow/core/lib/hash/crc32c.h).
const maskDelta = 0xa282ead8

// MaskedCRC returns the masked CRC-32C of b that TFRecord stores: a CRC of data
// that itself holds CRCs is masked so that it does not look like one.
func MaskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + maskDelta
}

// AppendRecord appends data framed as one TFRecord record (length, masked CRC of
// the length, data, masked CRC of the data) to dst and returns the result.
func AppendRecord(dst, data []byte) []byte {
	var hdr [12]byte
	binary.LittleEndian.PutUint64(hdr[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(hdr[8:], MaskedCRC(hdr[:8]))
	dst = append(dst, hdr[:]...)
	dst = append(dst, data...)
	return binary.LittleEndian.AppendUint32(dst, MaskedCRC(data))
}
