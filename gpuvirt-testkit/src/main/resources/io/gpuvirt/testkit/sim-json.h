/*
 * sim-json.h: the JSON state file of the testkit's simulated C libraries (fabric/libnvfm-sim.c
 * and libnvidia-ml-sim.c), the one copy both include: a small JSON tree reader and writer, the
 * state file's lock and reading the file whole. Include it after defining _GNU_SOURCE (for
 * F_OFD_SETLKW and strdup).
 *
 * Everything here is static, so each library gets its own private copy and exports none of it.
 * The builders (SimulatedNvfmLibrary, SimulatedNvml) write this header next to the source they
 * compile, where gcc finds a quoted #include, and rebuild when either file changes.
 *
 * What it reads: objects, arrays, strings (escapes \n \t \r \b \f, \uXXXX below 0x80, other code
 * points as '?'), integers (a fraction or exponent is skipped), true, false, null, nested at most
 * 32 deep. It writes the same tree compactly, in the order it was read.
 */
#ifndef GPUVIRT_SIM_JSON_H
#define GPUVIRT_SIM_JSON_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A library uses only the calls it needs; the others are no warning under -Werror. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

/* ---- a small JSON tree ---------------------------------------------------------------------- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jv {
  jtype type;
  long long num;
  char *str;
  int n;
  int cap;
  char **keys;
  struct jv **items;
} jv;

static void *xalloc(size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (!p) {
    abort();
  }
  return p;
}

static char *xstrdup(const char *s) {
  char *d = strdup(s);
  if (!d) {
    abort();
  }
  return d;
}

static jv *jnew(jtype t) {
  jv *v = xalloc(sizeof *v);
  v->type = t;
  return v;
}

static void jfree(jv *v) {
  if (!v) {
    return;
  }
  for (int i = 0; i < v->n; i++) {
    if (v->keys) {
      free(v->keys[i]);
    }
    jfree(v->items[i]);
  }
  free(v->keys);
  free(v->items);
  free(v->str);
  free(v);
}

static void jpush(jv *v, const char *key, jv *item) {
  if (v->n == v->cap) {
    int cap = v->cap ? v->cap * 2 : 8;
    jv **items = realloc(v->items, (size_t) cap * sizeof *items);
    if (!items) {
      abort();
    }
    v->items = items;
    if (v->type == J_OBJ) {
      char **keys = realloc(v->keys, (size_t) cap * sizeof *keys);
      if (!keys) {
        abort();
      }
      v->keys = keys;
    }
    v->cap = cap;
  }
  if (v->type == J_OBJ) {
    v->keys[v->n] = xstrdup(key);
  }
  v->items[v->n++] = item;
}

static void jremove(jv *v, int index) {
  if (v->keys) {
    free(v->keys[index]);
  }
  jfree(v->items[index]);
  for (int i = index; i + 1 < v->n; i++) {
    if (v->keys) {
      v->keys[i] = v->keys[i + 1];
    }
    v->items[i] = v->items[i + 1];
  }
  v->n--;
}

typedef struct {
  const char *p;
  const char *end;
  int failed;
} jparser;

static void skip_ws(jparser *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
    s->p++;
  }
}

static char *parse_string(jparser *s) {
  if (s->p >= s->end || *s->p != '"') {
    s->failed = 1;
    return NULL;
  }
  s->p++;
  size_t cap = 32;
  size_t len = 0;
  char *out = xalloc(cap);
  while (s->p < s->end && *s->p != '"') {
    char c = *s->p++;
    if (c == '\\') {
      if (s->p >= s->end) {
        break;
      }
      char e = *s->p++;
      switch (e) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u': {
          unsigned int code = 0;
          for (int i = 0; i < 4; i++) {
            if (s->p >= s->end) {
              s->failed = 1;
              free(out);
              return NULL;
            }
            char h = *s->p++;
            code <<= 4;
            if (h >= '0' && h <= '9') {
              code |= (unsigned int) (h - '0');
            } else if (h >= 'a' && h <= 'f') {
              code |= (unsigned int) (h - 'a' + 10);
            } else if (h >= 'A' && h <= 'F') {
              code |= (unsigned int) (h - 'A' + 10);
            } else {
              s->failed = 1;
              free(out);
              return NULL;
            }
          }
          c = code < 0x80 ? (char) code : '?';
          break;
        }
        default: c = e; break;
      }
    }
    if (len + 2 > cap) {
      cap *= 2;
      char *bigger = realloc(out, cap);
      if (!bigger) {
        abort();
      }
      out = bigger;
    }
    out[len++] = c;
  }
  if (s->p >= s->end) {
    s->failed = 1;
    free(out);
    return NULL;
  }
  s->p++;
  out[len] = '\0';
  return out;
}

static jv *parse_value(jparser *s, int depth);

static jv *parse_container(jparser *s, int depth, int object) {
  jv *v = jnew(object ? J_OBJ : J_ARR);
  s->p++;
  skip_ws(s);
  if (s->p < s->end && *s->p == (object ? '}' : ']')) {
    s->p++;
    return v;
  }
  for (;;) {
    char *key = NULL;
    skip_ws(s);
    if (object) {
      key = parse_string(s);
      skip_ws(s);
      if (s->failed || s->p >= s->end || *s->p != ':') {
        free(key);
        s->failed = 1;
        return v;
      }
      s->p++;
    }
    jv *item = parse_value(s, depth + 1);
    if (s->failed) {
      free(key);
      jfree(item);
      return v;
    }
    jpush(v, key, item);
    free(key);
    skip_ws(s);
    if (s->p < s->end && *s->p == ',') {
      s->p++;
      continue;
    }
    if (s->p < s->end && *s->p == (object ? '}' : ']')) {
      s->p++;
      return v;
    }
    s->failed = 1;
    return v;
  }
}

static jv *parse_value(jparser *s, int depth) {
  skip_ws(s);
  if (depth > 32 || s->p >= s->end) {
    s->failed = 1;
    return NULL;
  }
  char c = *s->p;
  if (c == '{' || c == '[') {
    return parse_container(s, depth, c == '{');
  }
  if (c == '"') {
    char *str = parse_string(s);
    if (!str) {
      return NULL;
    }
    jv *v = jnew(J_STR);
    v->str = str;
    return v;
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    char *after;
    jv *v = jnew(J_NUM);
    v->num = strtoll(s->p, &after, 10);
    if (after == s->p) {
      s->failed = 1;
      return v;
    }
    s->p = after;
    while (s->p < s->end && strchr("0123456789.eE+-", *s->p)) {
      s->p++;
    }
    return v;
  }
  static const struct { const char *text; jtype type; long long num; } literals[] = {
    {"true", J_BOOL, 1}, {"false", J_BOOL, 0}, {"null", J_NULL, 0}};
  for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
    size_t len = strlen(literals[i].text);
    if ((size_t) (s->end - s->p) >= len && strncmp(s->p, literals[i].text, len) == 0) {
      s->p += len;
      jv *v = jnew(literals[i].type);
      v->num = literals[i].num;
      return v;
    }
  }
  s->failed = 1;
  return NULL;
}

static void write_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char) *s;
    if (c == '"' || c == '\\') {
      fputc('\\', f);
      fputc(c, f);
    } else if (c < 0x20) {
      fprintf(f, "\\u%04x", c);
    } else {
      fputc(c, f);
    }
  }
  fputc('"', f);
}

static void jwrite(FILE *f, const jv *v) {
  switch (v->type) {
    case J_NULL: fputs("null", f); break;
    case J_BOOL: fputs(v->num ? "true" : "false", f); break;
    case J_NUM: fprintf(f, "%lld", v->num); break;
    case J_STR: write_string(f, v->str); break;
    case J_ARR:
    case J_OBJ:
      fputc(v->type == J_OBJ ? '{' : '[', f);
      for (int i = 0; i < v->n; i++) {
        if (i) {
          fputc(',', f);
        }
        if (v->type == J_OBJ) {
          write_string(f, v->keys[i]);
          fputc(':', f);
        }
        jwrite(f, v->items[i]);
      }
      fputc(v->type == J_OBJ ? '}' : ']', f);
      break;
  }
}

static jv *jget(const jv *o, const char *key) {
  if (!o || o->type != J_OBJ) {
    return NULL;
  }
  for (int i = 0; i < o->n; i++) {
    if (strcmp(o->keys[i], key) == 0) {
      return o->items[i];
    }
  }
  return NULL;
}

static long long jint(const jv *o, const char *key, long long fallback) {
  jv *v = jget(o, key);
  return v && v->type == J_NUM ? v->num : fallback;
}

static int jbool(const jv *o, const char *key) {
  jv *v = jget(o, key);
  return v && v->type == J_BOOL && v->num != 0;
}

static const char *jstr(const jv *o, const char *key) {
  jv *v = jget(o, key);
  return v && v->type == J_STR ? v->str : "";
}

static jv *jarr(jv *o, const char *key) {
  jv *v = jget(o, key);
  if (v && v->type == J_ARR) {
    return v;
  }
  static jv empty = {J_ARR, 0, NULL, 0, 0, NULL, NULL};
  return &empty;
}

static void jset(jv *o, const char *key, jv *value) {
  for (int i = 0; i < o->n; i++) {
    if (strcmp(o->keys[i], key) == 0) {
      jfree(o->items[i]);
      o->items[i] = value;
      return;
    }
  }
  jpush(o, key, value);
}

static jv *jnum(long long n) {
  jv *v = jnew(J_NUM);
  v->num = n;
  return v;
}

static jv *jstring(const char *s) {
  jv *v = jnew(J_STR);
  v->str = xstrdup(s);
  return v;
}

/* ---- the state file's lock and text --------------------------------------------------------- */

/*
 * Opens (creating) the lock file at lockpath and waits for its write lock, an open file
 * description lock. Returns the descriptor; -1 when the file cannot be opened; -2 when the lock
 * cannot be taken (the file is closed again). A signal while waiting waits again: closing the fd
 * before holding the lock would drop a POSIX lock the Java side of this process may hold on the
 * same file (POSIX locks go with any close of the file).
 */
static int lock_state(const char *lockpath) {
  int fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return -1;
  }
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  int locked;
  while ((locked = fcntl(fd, F_OFD_SETLKW, &fl)) != 0 && errno == EINTR) {
  }
  if (locked != 0) {
    close(fd);
    return -2;
  }
  return fd;
}

/* The whole of the file at path, or NULL when it cannot be opened; the caller frees it. */
static char *read_file(const char *path, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    return NULL;
  }
  size_t cap = 65536;
  size_t len = 0;
  char *buf = xalloc(cap);
  size_t got;
  while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) {
      cap *= 2;
      char *bigger = realloc(buf, cap);
      if (!bigger) {
        abort();
      }
      buf = bigger;
    }
  }
  fclose(f);
  *len_out = len;
  return buf;
}

/*
 * The JSON value in the file at path, or NULL: *missing is 1 when the file cannot be opened, 0
 * when it was read (then NULL means it holds no JSON value). The caller frees the value.
 */
static jv *jread_file(const char *path, int *missing) {
  size_t len = 0;
  char *buf = read_file(path, &len);
  *missing = buf == NULL;
  if (!buf) {
    return NULL;
  }
  jparser p = {buf, buf + len, 0};
  jv *v = parse_value(&p, 0);
  free(buf);
  if (p.failed) {
    jfree(v);
    return NULL;
  }
  return v;
}

/* A state file's object, as jread_file reads it, or NULL unless it is an object of "format" 1. */
static jv *read_state(const char *path, int *missing) {
  jv *root = jread_file(path, missing);
  if (root && (root->type != J_OBJ || jint(root, "format", 0) != 1)) {
    jfree(root);
    return NULL;
  }
  return root;
}

#pragma GCC diagnostic pop

#endif /* GPUVIRT_SIM_JSON_H */
