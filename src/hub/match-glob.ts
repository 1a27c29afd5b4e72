/**
 * A matcher for the globs of a Hub source, applied to repo paths: `*` and `?` stay within one
 * path segment, `**` crosses segments, `[...]` is a character class. The same matcher picks
 * files from the Hub's listing and from the cache, so the two always agree.
 */
export function matchGlob(patterns: string[]): (path: string) => boolean {
  const res = patterns.map(globToRegExp);
  return (path) => res.some((r) => r.test(path));
}

function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          out += '(?:.*/)?';
        } else out += '.*';
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close < 0) out += '\\[';
      else {
        const body = glob.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\');
        out += `[${body}]`;
        i = close;
      }
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}
