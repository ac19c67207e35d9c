package emulators

import (
	"context"
	"testing"
)

// StartFirestoreForTest starts a Firestore emulator for the test and stops it
// when the test and its subtests finish. A missing emulator or Java fails the
// test with a message saying what to install.
func StartFirestoreForTest(t testing.TB) *Emulator {
	t.Helper()
	return StartForTest(t, Firestore)
}

// StartPubSubForTest starts a Pub/Sub emulator for the test, like
// StartFirestoreForTest.
func StartPubSubForTest(t testing.TB) *Emulator {
	t.Helper()
	return StartForTest(t, PubSub)
}

// StartForTest starts the emulator of the given kind and registers its Stop
// in t.Cleanup. It fails the test, never skips it, when the emulator cannot
// run.
func StartForTest(t testing.TB, kind Kind) *Emulator {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	e, err := Start(ctx, kind)
	if err != nil {
		t.Fatalf("cannot start the %s emulator, which this test needs: %v", kind, err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("stopping the %s emulator: %v", kind, err)
		}
	})
	return e
}
