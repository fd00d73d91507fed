package canon

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// ErrNonCanonical is returned by Unmarshal for input that decodes but is not
// the canonical encoding of the decoded value.
var ErrNonCanonical = errors.New("canon: encoding is not canonical")

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	eo := cbor.CoreDetEncOptions()
	// Times are carried as integer Unix milliseconds in our types; forbid
	// the encoder from ever choosing a tag for us.
	eo.Time = cbor.TimeUnix
	eo.TimeTag = cbor.EncTagNone
	var err error
	encMode, err = eo.EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   16,
		MaxArrayElements:  4096,
		MaxMapPairs:       1024,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
		IntDec:            cbor.IntDecConvertSignedOrFail,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Marshal encodes v canonically.
func Marshal(v any) ([]byte, error) {
	b, err := encMode.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("canon: encode %T: %w", v, err)
	}
	return b, nil
}

// MustMarshal is Marshal for values whose types cannot fail to encode
// (our own structs); a failure is a programmer bug.
func MustMarshal(v any) []byte {
	b, err := Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Unmarshal decodes data into v strictly and checks that data is the
// canonical encoding of the result. Trailing bytes are an error.
func Unmarshal(data []byte, v any) error {
	if err := decMode.Unmarshal(data, v); err != nil {
		return fmt.Errorf("canon: decode %T: %w", v, err)
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return fmt.Errorf("canon: re-encode %T: %w", v, err)
	}
	if !bytes.Equal(again, data) {
		return fmt.Errorf("%w (%T)", ErrNonCanonical, v)
	}
	return nil
}
