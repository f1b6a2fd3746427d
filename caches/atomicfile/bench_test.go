package atomicfile_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkAtomicFileSet measures one durable replace (write, two fsyncs,
// rename) of a checkpoint-sized value; a checkpoint's `seen` set can reach tens
// of MB at high volume.
func BenchmarkAtomicFileSet(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20, 30 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			s, err := openBenchStore(b)
			require.NoError(b, err)
			value := bytes.Repeat([]byte("x"), size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Set("checkpoint", value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
