package redis_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// BenchmarkRedisSet measures one SET of a checkpoint-sized value to the test
// server over loopback (no persistence configured by ./.ci/test, so this is
// network and memory cost only).
func BenchmarkRedisSet(b *testing.B) {
	ctx := context.Background()
	for _, size := range []int{1 << 10, 1 << 20, 30 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			c := newClient(b)
			value := bytes.Repeat([]byte("x"), size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Set(ctx, "checkpoint", value, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
