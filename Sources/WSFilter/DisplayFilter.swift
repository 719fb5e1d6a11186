// Display filters (-Y): compiled once, applied to rows.
