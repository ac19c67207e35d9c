package doclinks

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

var (
	// inlineLink matches [text](target) and ![alt](target), with an
	// optional "title".
	inlineLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	// referenceLink matches a link reference definition: [name]: target.
	referenceLink = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*(\S+)`)
	// codeSpan matches inline code, whose text is never a link.
	codeSpan = regexp.MustCompile("`[^`]*`")
	// heading matches an ATX heading.
	heading = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	// inlineMarkup is what GitHub drops from a heading before making its
	// anchor: links keep their text, emphasis and code marks go.
	headingLink = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	scheme      = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// link is one link target found in a Markdown file.
type link struct {
	line   int
	target string
}

// links returns the link targets of a Markdown text, outside fenced code
// blocks and code spans.
func links(markdown string) []link {
	var out []link
	inFence := false
	sc := bufio.NewScanner(strings.NewReader(markdown))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		line = codeSpan.ReplaceAllString(line, "")
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			out = append(out, link{n, m[1]})
		}
		if m := referenceLink.FindStringSubmatch(line); m != nil {
			out = append(out, link{n, m[1]})
		}
	}
	return out
}

// anchors returns the anchors GitHub gives the headings of a Markdown
// text: lower case, punctuation dropped, spaces as hyphens, and -1, -2 …
// after a repeat.
func anchors(markdown string) []string {
	var out []string
	inFence := false
	sc := bufio.NewScanner(strings.NewReader(markdown))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		m := heading.FindStringSubmatch(line)
		if inFence || m == nil {
			continue
		}
		text := headingLink.ReplaceAllString(m[1], "$1")
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		a := b.String()
		for i := 1; slices.Contains(out, a); i++ {
			a = fmt.Sprintf("%s-%d", b.String(), i)
		}
		out = append(out, a)
	}
	return out
}

// checkFile returns a problem for every relative link of the Markdown file
// at path (inside root) that does not resolve: a missing file, a path that
// leaves root, or a #section that is no heading of its Markdown target.
func checkFile(root, path string) ([]string, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rel, _ := filepath.Rel(root, path)
	var problems []string
	for _, l := range links(string(text)) {
		if scheme.MatchString(l.target) || strings.HasPrefix(l.target, "//") {
			continue // an absolute URL: not checked here
		}
		file, fragment, _ := strings.Cut(l.target, "#")
		target := path
		if file != "" {
			if strings.HasPrefix(file, "/") {
				target = filepath.Join(root, filepath.FromSlash(file))
			} else {
				target = filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
			}
		}
		where := fmt.Sprintf("%s:%d: link %q", rel, l.line, l.target)
		if r, err := filepath.Rel(root, target); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			problems = append(problems, where+" leaves the repository")
			continue
		}
		info, err := os.Stat(target)
		if err != nil {
			problems = append(problems, where+" names a file that does not exist")
			continue
		}
		if fragment == "" || info.IsDir() || !strings.HasSuffix(target, ".md") {
			continue
		}
		targetText, err := os.ReadFile(target)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(anchors(string(targetText)), fragment) {
			problems = append(problems, fmt.Sprintf("%s: %s has no heading with the anchor #%s", where, filepath.Base(target), fragment))
		}
	}
	return problems, nil
}

// markdownFiles returns every .md file under root, skipping hidden
// directories (.git, .cache …) and build output.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || path == filepath.Join(root, "terraform", "build")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return out
}

// repoRoot is the directory holding go.mod, above the test's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func TestEveryRelativeLinkResolves(t *testing.T) {
	root := repoRoot(t)
	files := markdownFiles(t, root)
	if !slices.Contains(files, filepath.Join(root, "README.md")) {
		t.Fatalf("found no README.md under %s (found %d Markdown files)", root, len(files))
	}
	for _, f := range files {
		problems, err := checkFile(root, f)
		if err != nil {
			t.Fatalf("checking %s: %v", f, err)
		}
		for _, p := range problems {
			t.Error(p)
		}
	}
}

func TestBrokenLinksAreFound(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("docs/page.md", "# Page\n\n## Step by step (what `it` does)\n\n## Step by step (what `it` does)\n")
	write("README.md", strings.Join([]string{
		"[good](docs/page.md) [good section](docs/page.md#step-by-step-what-it-does)",
		"[repeated heading](docs/page.md#step-by-step-what-it-does-1) [here](#readme)",
		"[web](https://example.com/nothing) [mail](mailto:a@example.com)",
		"`[in code](nothing.md)`",
		"```",
		"[in a block](nothing.md)",
		"```",
		"[missing](docs/gone.md)",
		"[missing section](docs/page.md#no-such-heading)",
		"[outside](../elsewhere.md)",
		"[reference]: docs/also-gone.md",
		"# README",
	}, "\n"))
	problems, err := checkFile(root, filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`README.md:8: link "docs/gone.md" names a file that does not exist`,
		`README.md:9: link "docs/page.md#no-such-heading": page.md has no heading with the anchor #no-such-heading`,
		`README.md:10: link "../elsewhere.md" leaves the repository`,
		`README.md:11: link "docs/also-gone.md" names a file that does not exist`,
	}
	if !slices.Equal(problems, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
}
