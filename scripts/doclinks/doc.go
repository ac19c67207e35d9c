// Package doclinks holds a test, run by go test ./..., that every relative
// link in the repository's Markdown files names a file that exists and,
// with a #section, a heading that exists in that file.
package doclinks
