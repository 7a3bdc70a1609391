"""Publishing machinery (not course material): the repository setting and the chapters' install cell."""
