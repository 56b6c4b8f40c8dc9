/*
 * sim-json-check.c: SimJsonHeaderTest's program over sim-json.h, the header both simulated C
 * libraries include. Run with a scratch directory; prints one line per failed check and exits 1
 * on any, else prints "ok".
 */
#define _GNU_SOURCE
#include "sim-json.h"

static int failures;

static void check(int ok, const char *what) {
  if (!ok) {
    printf("FAILED: %s\n", what);
    failures++;
  }
}

static void put(const char *dir, const char *name, const char *text, char *path, size_t n) {
  snprintf(path, n, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) {
    printf("FAILED: cannot write %s\n", path);
    exit(2);
  }
  fputs(text, f);
  fclose(f);
}

static char *written(const jv *v) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  jwrite(f, v);
  fclose(f);
  return out;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    return 2;
  }
  const char *dir = argv[1];
  char path[4096];
  int missing = -1;

  snprintf(path, sizeof path, "%s/absent.json", dir);
  check(jread_file(path, &missing) == NULL && missing == 1, "an absent file is missing");
  check(read_state(path, &missing) == NULL && missing == 1, "an absent state is missing");

  put(dir, "cut.json", "{\"format\":1,\"a\":[1,", path, sizeof path);
  check(jread_file(path, &missing) == NULL && missing == 0, "a cut-off value is no value");
  put(dir, "deep.json", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
      path, sizeof path);
  check(jread_file(path, &missing) == NULL && missing == 0, "nesting past 32 is refused");
  put(dir, "array.json", "[1]", path, sizeof path);
  jv *array = jread_file(path, &missing);
  check(array && array->type == J_ARR && missing == 0, "an array is a value");
  jfree(array);
  check(read_state(path, &missing) == NULL && missing == 0, "an array is no state");
  put(dir, "format2.json", "{\"format\":2}", path, sizeof path);
  check(read_state(path, &missing) == NULL && missing == 0, "format 2 is no state");

  put(dir, "state.json",
      " {\"format\": 1, \"s\": \"q\\\"b\\\\n\\n\\u0041\\u00e9\", \"n\": -12, \"f\": 2.5e3,"
      " \"t\": true, \"z\": null, \"a\": [], \"o\": {}}\n",
      path, sizeof path);
  jv *state = read_state(path, &missing);
  check(state != NULL && missing == 0, "a format 1 object is a state");
  if (state) {
    check(strcmp(jstr(state, "s"), "q\"b\\n\nA?") == 0, "escapes decode");
    check(jint(state, "n", 0) == -12 && jint(state, "f", 0) == 2, "integers, fractions cut");
    check(jbool(state, "t") && !jbool(state, "z"), "literals");
    check(jarr(state, "o")->n == 0 && jarr(state, "nothing")->type == J_ARR, "jarr falls back");
    jset(state, "n", jnum(7));
    jpush(jarr(state, "a"), NULL, jstring("x\ty"));
    jremove(state, 4); /* "t" */
    char *out = written(state);
    check(strcmp(out, "{\"format\":1,\"s\":\"q\\\"b\\\\n\\u000aA?\",\"n\":7,\"f\":2,"
        "\"z\":null,\"a\":[\"x\\u0009y\"],\"o\":{}}") == 0, "the tree writes back compactly");
    free(out);
    jfree(state);
  }

  snprintf(path, sizeof path, "%s/no/such/dir/state.lock", dir);
  check(lock_state(path) == -1, "a lock file that cannot be made is -1");
  snprintf(path, sizeof path, "%s/state.lock", dir);
  int fd = lock_state(path);
  check(fd >= 0, "the lock is taken");
  int other = open(path, O_RDWR | O_CLOEXEC);
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  check(other >= 0 && fcntl(other, F_OFD_SETLK, &fl) != 0 && (errno == EAGAIN || errno == EACCES),
      "a second open file description cannot take the lock while it is held");
  close(fd);
  check(fcntl(other, F_OFD_SETLK, &fl) == 0, "closing the holder frees the lock");
  close(other);

  if (failures) {
    return 1;
  }
  puts("ok");
  return 0;
}
