// Markdown's inline syntax to DOM nodes: `inline(parent, text)` appends `text` rendered to `parent`.
// Used by markdown.js for every paragraph, heading and table cell. Every piece of model text ends up
// in a Text node; links keep http(s) and mailto targets only.
//
// One left-to-right pass, linear in the text's length: whatever a construct must find further on
// (its closing delimiter, the matching bracket or parenthesis, the end of a URL) is looked up in a
// table built once per text, never searched for again from each opening character, so no reply,
// however written, costs more than its length (`*a ` 32,000 times took 19 s when each `*` searched
// the rest of the text for its closer). Constructs nest at most MAX_NESTING deep.
import {h} from "./dom.js";

const ESCAPABLE = /[!-/:-@[-`{-~]/;
const SPACE = /\s/;
const WORD = /[\p{L}\p{N}]/u;
const URL_TAIL = ".,;:!?'\")]*_~"; // punctuation after a bare URL belongs to the sentence
const MAX_NESTING = 16; // emphasis and links inside each other; deeper stays plain text

export function safeUrl(raw) {
  try {
    const url = new URL(raw.trim()); // absolute URLs only: a relative one stays text
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function link(href, children) {
  return h("a", {href, rel: "noopener noreferrer nofollow", target: "_blank"}, children);
}

const startsWithAt = (text, i, prefixes) => {
  const head = text.slice(i, i + 8).toLowerCase();
  return prefixes.find((prefix) => head.startsWith(prefix)) || null;
};

// The tables of one text, each built on first use in one pass.
class Tables {
  constructor(text) {
    this.text = text;
    this.built = new Map();
  }

  once(name, build) {
    if (!this.built.has(name)) this.built.set(name, build());
    return this.built.get(name);
  }

  // The first index >= from where test(index) holds, or -1.
  next(name, from, test) {
    const found = this.once(name, () => {
      const table = new Int32Array(this.text.length + 1).fill(-1);
      for (let k = this.text.length - 1; k >= 0; k -= 1) table[k] = test(k) ? k : table[k + 1];
      return table;
    });
    return from < found.length ? found[from] : -1;
  }

  // For each opening character, the index of its match, or -1 (nested pairs balanced).
  pairs(open, close, escapes) {
    return this.once(open, () => {
      const text = this.text;
      const match = new Int32Array(text.length).fill(-1);
      const stack = [];
      for (let k = 0; k < text.length; k += 1) {
        if (escapes && text[k] === "\\") k += 1;
        else if (text[k] === open) stack.push(k);
        else if (text[k] === close && stack.length) match[stack.pop()] = k;
      }
      return match;
    });
  }

  // The first run of exactly `size` backticks starting at or after `from`, or -1. Queries come left
  // to right, so each run length keeps a cursor into its list of runs.
  backtickRun(size, from) {
    const runs = this.once("`", () => {
      const bySize = new Map();
      const text = this.text;
      for (let k = 0; k < text.length; k += 1) {
        if (text[k] !== "`") continue;
        const start = k;
        while (text[k + 1] === "`") k += 1;
        const length = k - start + 1;
        if (!bySize.has(length)) bySize.set(length, {starts: [], cursor: 0});
        bySize.get(length).starts.push(start);
      }
      return bySize;
    });
    const run = runs.get(size);
    if (!run) return -1;
    if (run.cursor > 0 && run.starts[run.cursor - 1] >= from) run.cursor = 0; // asked out of order
    while (run.cursor < run.starts.length && run.starts[run.cursor] < from) run.cursor += 1;
    return run.cursor < run.starts.length ? run.starts[run.cursor] : -1;
  }
}

class InlineRenderer {
  constructor(text) {
    this.text = text;
    this.tables = new Tables(text);
  }

  // Where text[i] (one of * _ ~) closes a run of `size`: the same run, hugging the text before it.
  closes(char, size) {
    const text = this.text;
    return (k) => text[k] === char && !SPACE.test(text[k - 1] || " ")
      && (size === 1 ? text[k - 1] !== char && text[k + 1] !== char : text[k + 1] === char)
      && !(char === "_" && WORD.test(text[k + size] || ""));
  }

  // Emphasis with * _ ~ opening at i: {element, end} or null.
  emphasis(i, from, to, depth) {
    const text = this.text;
    const char = text[i];
    const size = char === "~" || text[i + 1] === char ? 2 : 1;
    if (char === "~" && text[i + 1] !== "~") return null;
    if (i + size >= to || SPACE.test(text[i + size])) return null;
    if (char === "_" && i > from && WORD.test(text[i - 1])) return null; // snake_case stays
    const close = this.tables.next(char + size, i + size + 1, this.closes(char, size));
    if (close < 0 || close + size > to) return null;
    const tag = char === "~" ? "del" : size === 2 ? "strong" : "em";
    return {element: this.render(h(tag), i + size, close, depth + 1), end: close + size};
  }

  // [label](destination "title") with its "[" at text[open]: {close, url, end} or null.
  linkAt(open, to) {
    const text = this.text;
    const tables = this.tables;
    const close = tables.pairs("[", "]", true)[open];
    if (close < 0 || close + 1 >= to || text[close + 1] !== "(") return null;
    let k = tables.next("not a space", close + 2, (x) => text[x] !== " ");
    let url;
    if (k < 0) return null;
    if (text[k] === "<") {
      const end = tables.next(">", k, (x) => text[x] === ">");
      if (end < 0 || end >= to) return null;
      url = text.slice(k + 1, end);
      k = end + 1;
    } else { // up to white space or the parenthesis that closes the "(", parentheses inside balanced
      const candidates = [tables.next("space", k, (x) => SPACE.test(text[x])),
        tables.pairs("(", ")", false)[close + 1], to].filter((end) => end >= 0);
      const end = Math.min(...candidates);
      url = text.slice(k, end);
      k = end;
    }
    k = tables.next("not white space", k, (x) => !SPACE.test(text[x]));
    if (k >= 0 && (text[k] === '"' || text[k] === "'")) {
      const quote = text[k];
      const end = tables.next(quote, k + 1, (x) => text[x] === quote);
      k = end < 0 ? -1 : tables.next("not white space", end + 1, (x) => !SPACE.test(text[x]));
    }
    if (k < 0 || k >= to || text[k] !== ")") return null;
    return {close, url, end: k + 1};
  }

  // A link or an image (which becomes a link: nothing loads by itself) at i, rendered: {element, end}.
  link(i, to, depth) {
    const image = this.text[i] === "!";
    const found = this.linkAt(image ? i + 1 : i, to);
    if (!found) return null;
    const labelFrom = (image ? i + 2 : i + 1);
    const href = safeUrl(found.url);
    let element;
    if (href && image) element = link(href, [this.text.slice(labelFrom, found.close) || href, " (image)"]);
    else element = this.render(href ? link(href, []) : h("span"), labelFrom, found.close, depth + 1);
    return {element, end: found.end};
  }

  // A URL written in <...> or bare from i: {element, end} or {text, end} when it is not a safe one.
  url(i, from, to) {
    const text = this.text;
    const stop = (x) => SPACE.test(text[x]) || text[x] === "<" || text[x] === ">";
    if (text[i] === "<") {
      const scheme = startsWithAt(text, i + 1, ["http://", "https://", "mailto:"]);
      const end = scheme ? this.tables.next("url stop", i + 1, stop) : -1;
      if (end < 0 || end >= to || text[end] !== ">" || end <= i + 1 + scheme.length) return null;
      const href = safeUrl(text.slice(i + 1, end));
      return href ? {element: link(href, [text.slice(i + 1, end)]), end: end + 1} : null;
    }
    if (i > from && WORD.test(text[i - 1])) return null;
    const scheme = startsWithAt(text, i, ["http://", "https://"]);
    if (!scheme) return null;
    const stopAt = this.tables.next("url stop", i, stop);
    let end = Math.min(stopAt < 0 ? to : stopAt, to);
    if (end <= i + scheme.length) return null;
    while (URL_TAIL.includes(text[end - 1])) end -= 1;
    const href = safeUrl(text.slice(i, end));
    return href ? {element: link(href, [text.slice(i, end)]), end} : {text: true, end};
  }

  // Appends text[from, to) rendered to parent.
  render(parent, from, to, depth) {
    const text = this.text;
    if (depth > MAX_NESTING) {
      parent.append(text.slice(from, to));
      return parent;
    }
    let plain = from; // the start of the text not appended yet
    const put = (node, at, end) => {
      if (at > plain) parent.append(text.slice(plain, at));
      if (node) parent.append(node);
      plain = end;
      return end;
    };
    let i = from;
    while (i < to) {
      const char = text[i];
      let found;
      if (char === "\\" && i + 1 < to && ESCAPABLE.test(text[i + 1])) {
        i = put(null, i, i + 1) + 1; // the escaped character starts the next stretch of text
      } else if (char === "\n") {
        i = put(h("br"), i, i + 1);
      } else if (char === "`") {
        let size = 1;
        while (i + size < to && text[i + size] === "`") size += 1;
        const close = this.tables.backtickRun(size, i + size);
        if (close < 0 || close + size > to) {
          i += size;
        } else {
          let code = text.slice(i + size, close).replace(/\n/g, " ");
          const padded = code.length > 2 && code[0] === " " && code.endsWith(" ") && code.trim();
          if (padded) code = code.slice(1, -1); // ` a ` is "a"; `  ` stays two spaces
          i = put(h("code", {}, code), i, close + size);
        }
      } else if ((char === "[" || (char === "!" && text[i + 1] === "["))
                 && (found = this.link(i, to, depth))) {
        i = put(found.element, i, found.end);
      } else if ((char === "<" || char === "h" || char === "H") && (found = this.url(i, from, to))) {
        i = found.element ? put(found.element, i, found.end) : found.end;
      } else if ("*_~".includes(char) && (found = this.emphasis(i, from, to, depth))) {
        i = put(found.element, i, found.end);
      } else {
        i += 1;
      }
    }
    put(null, to, to);
    return parent;
  }
}

export function inline(parent, text) {
  return new InlineRenderer(text).render(parent, 0, text.length, 0);
}
