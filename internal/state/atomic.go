package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// WriteFileAtomic replaces path with data so that a reader, or a crash at
// any instant (kill -9, power loss), sees either the old content or the new
// one, never a mix: write a temp file in the same directory, fsync it,
// rename it over path, then fsync the directory so the rename is durable.
// It first removes the temp files of path that a killed writer left behind
// (see temps.go), never a live writer's.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeFileAtomic(path, data, perm, true)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode, durable bool) error {
	_, err := replaceFile(path, data, perm, durable)
	return err
}

// replaceFile is writeFileAtomic, and reports whether path was replaced
// (readers see the new content): true with an error from the directory's
// sync after the rename.
func replaceFile(path string, data []byte, perm os.FileMode, durable bool) (replaced bool, err error) {
	dir := filepath.Dir(path)
	_ = removeStaleTempsOf(dir, filepath.Base(path)) // best effort: a leftover costs only space
	tmp, err := writeTemp(path, data, perm, durable)
	if err != nil {
		return false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return false, err
	}
	if !durable {
		return true, nil
	}
	return true, syncDir(dir)
}

// writeTemp writes data to a new temp file beside path (named as
// temps.go says), synced when durable, and returns its name.
func writeTemp(path string, data []byte, perm os.FileMode, durable bool) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), tempPattern(filepath.Base(path)))
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if durable {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return fmt.Errorf("sync directory %s: %w", dir, serr)
	}
	return cerr
}

// RemoveTemps deletes the temp files of WriteFileAtomic for the files
// named in names (base names in dir) that are older than minAge. A caller
// that holds the lock every writer of those files takes passes 0: no live
// writer can own one of them then.
func RemoveTemps(dir string, minAge time.Duration, names ...string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		n := e.Name()
		if !isTempOf(n, names) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) >= minAge {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !os.IsNotExist(err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func isTempOf(name string, bases []string) bool {
	for _, b := range bases {
		if strings.HasPrefix(name, "."+b+".tmp-") {
			return true
		}
	}
	return false
}

// SaveJSON writes v as indented JSON to path, atomically and durably
// (WriteFileAtomic).
func SaveJSON(path string, v any) error { return saveJSON(path, v, true) }

// ReplaceJSON writes v as indented JSON to path as SaveJSON does, without
// the two fsyncs: a reader, or a process killed at any instant (kill -9),
// sees the old content or the new one, never a mix; after a power loss
// either may be there, or an empty file (read such files with LoadMark).
// For what only has to survive its writer being killed: a drain's marks,
// and records of kernel or server state that a reboot resets anyway (the
// answer lease). Each fsync costs a millisecond or more on a disk, on the
// path of a move.
func ReplaceJSON(path string, v any) error { return saveJSON(path, v, false) }

func saveJSON(path string, v any, durable bool) error {
	b, err := encodeJSON(path, v)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b, 0o644, durable)
}

// encodeJSON is v as SaveJSON writes it to path.
func encodeJSON(path string, v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	return append(b, '\n'), nil
}

// LoadMark is LoadJSON for a file written with ReplaceJSON when it is
// written fresh (not over a durable copy): a power loss can leave such a
// file empty, and an empty one counts as absent. Only for files whose
// absence is safe to assume: each act they record has its undo written
// durably before it (see the drain journal), or what they record did not
// survive the reboot either.
func LoadMark(path string, v any) (found bool, err error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		return false, nil
	}
	return LoadJSON(path, v)
}

// LoadJSON reads path into v; found is false when the file does not exist.
func LoadJSON(path string, v any) (found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return true, nil
}
