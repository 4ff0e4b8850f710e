package main

import (
	"context"
	"sync"
	"sync/atomic"
)

// dialAll opens n connections with dial, workers at a time, and returns
// those that opened (in no particular order), the number that failed and
// the first failure. Past maxFailed failures it gives up: a server that
// stopped accepting would otherwise cost a timeout per remaining one.
func dialAll[C comparable](ctx context.Context, n, workers, maxFailed int, dial func(ctx context.Context, i int) (C, error)) ([]C, int, string) {
	var zero C
	conns := make([]C, n)
	var next, failed atomic.Int64
	var once sync.Once
	var first string
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range min(n, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := dial(ctx, i)
				if err != nil {
					if failed.Add(1) > int64(maxFailed) {
						cancel()
					}
					once.Do(func() { first = err.Error() })
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	open := conns[:0]
	for _, c := range conns {
		if c != zero {
			open = append(open, c)
		}
	}
	return open, int(failed.Load()), first
}
