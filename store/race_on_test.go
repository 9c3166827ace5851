//go:build race

package store

// raceDetector: the race detector's shadow memory makes a read far past a
// damaged page's end take seconds, not milliseconds.
const raceDetector = true
