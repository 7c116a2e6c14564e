package dirlake

import "github.com/hublake/hublake/objstore"

// For the external tests: what a Lake and its objects are set to do.

func Root(d *Lake) string                        { return d.root }
func DefersSync(d *Lake) bool                    { return d.deferSync }
func SyncsOnCommit(w objstore.ObjectWriter) bool { return w.(*dirObject).sync }
