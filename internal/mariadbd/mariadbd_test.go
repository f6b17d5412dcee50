package mariadbd

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStartFailsClearly(t *testing.T) {
	if _, _, err := Binaries(Options{}); err != nil {
		t.Skip(err)
	}
	_, err := StartProcess(Options{ExtraConfig: []string{"no-such-option-at-all=1"}, StartTimeout: 20 * time.Second})
	if err == nil {
		t.Fatal("mariadbd started with an unknown option")
	}
	if !strings.Contains(err.Error(), "no-such-option-at-all") {
		t.Errorf("error does not show the error log: %v", err)
	}

	_, err = StartProcess(Options{Mariadbd: "/nonexistent/mariadbd"})
	if !errors.Is(err, ErrNotInstalled) {
		t.Errorf("missing binary: %v, want ErrNotInstalled", err)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":     "'plain'",
		"it's":      `'it\'s'`,
		`back\`:     `'back\\'`,
		"nl\nx\x00": `'nl\nx\0'`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}
