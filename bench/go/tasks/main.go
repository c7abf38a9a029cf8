// The Go side of the task benchmarks, export for export with tests/guests/bench.
package main

import (
	"runtime"
	"sync"
)

//go:wasmexport roundtrip
func roundtrip(x int32) int32 {
	reply := make(chan int32)
	go func() { reply <- x + 1 }()
	return <-reply
}

var parked []chan struct{}

//go:wasmexport park
func park(n int32) {
	for i := int32(0); i < n; i++ {
		c := make(chan struct{})
		parked = append(parked, c)
		go func() { <-c }()
	}
	runtime.Gosched()
}

//go:wasmexport spawn_many
func spawnMany(n int32) int32 {
	var wg sync.WaitGroup
	results := make([]int32, n)
	for i := int32(0); i < n; i++ {
		wg.Add(1)
		go func(i int32) {
			results[i] = i & 1
			wg.Done()
		}(i)
	}
	wg.Wait()
	var sum int32
	for _, r := range results {
		sum += r
	}
	return sum
}

//go:wasmexport tasks
func tasks() int32 {
	return int32(runtime.NumGoroutine())
}

func main() {}
