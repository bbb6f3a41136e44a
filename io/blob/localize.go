package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// Localize returns a local path holding the file at p: p itself when it is
// local, or a copy of a gs:// object in cacheDir (default: minerva-cache in
// the system's temporary folder). A copy is made once per object and size
// (written under a temporary name, then renamed), so the workers of one
// machine share it; files that must be memory-mapped, such as model
// weights, are read from it.
func Localize(ctx context.Context, p, cacheDir string) (string, error) {
	if !IsGCS(p) {
		return p, nil
	}
	if cacheDir == "" {
		cacheDir = filepath.Join(os.TempDir(), "minerva-cache")
	}
	info, err := Stat(ctx, p)
	if err != nil {
		return "", err
	}
	if info.IsDir {
		return "", &os.PathError{Op: "localize", Path: p, Err: ErrIsDir}
	}
	sum := sha256.Sum256([]byte(p + "\x00" + strconv.FormatInt(info.Size, 10)))
	local := filepath.Join(cacheDir, hex.EncodeToString(sum[:8])+"-"+Base(p))
	if st, err := os.Stat(local); err == nil && st.Size() == info.Size {
		return local, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("localize %s: %w", p, err)
	}
	r, _, err := OpenReader(ctx, p)
	if err != nil {
		return "", err
	}
	defer r.Close()
	tmp, err := os.CreateTemp(cacheDir, "."+filepath.Base(local)+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("localize %s: %w", p, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	n, err := io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != info.Size {
		err = fmt.Errorf("read %d bytes, want %d", n, info.Size)
	}
	if err != nil {
		return "", fmt.Errorf("localize %s: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), local); err != nil {
		return "", fmt.Errorf("localize %s: %w", p, err)
	}
	return local, nil
}
