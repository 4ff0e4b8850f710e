//go:build race

package metrics

// raceEnabled: the race detector allocates and empties sync.Pools at random,
// so allocation budgets are checked without it.
const raceEnabled = true
