package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frames on every hayek stream are a uvarint length followed by that many
// bytes. Each protocol caps its frames; a larger length is rejected before
// anything is allocated.

// ErrFrameTooLarge is returned for a frame longer than its protocol's cap.
var ErrFrameTooLarge = errors.New("frame too large")

// WriteFrame writes b as one frame.
func WriteFrame(w io.Writer, b []byte) error {
	buf := make([]byte, 0, binary.MaxVarintLen64+len(b))
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	buf = append(buf, b...)
	_, err := w.Write(buf)
	return err
}

// ReadFrame reads one frame of at most max bytes. A stream that ends
// before a frame starts reports io.EOF.
func ReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("read frame length: %w", err)
	}
	if max < 0 || n > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read frame of %d bytes: %w", n, err)
	}
	return b, nil
}
