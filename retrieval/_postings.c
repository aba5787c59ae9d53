/* Loops over a BM25 field's postings (and the fields' sums) that numpy does in several passes.
 *
 * add_rows(out, rows): out[clauses[i]] += data[i] * weight for each (clauses, data, weight) of
 *     rows, in their order (a row's clauses ascending, as an index's rows are)
 * locate(slots, positions, clauses): slots[j] = i where clauses[i] == positions[j], else -1
 *     (both ascending): a row read at a few clauses
 * combine(total, chars, scale, titles, doc_of_clause): total[c] = (total[c] + chars[c] * scale)
 *     + titles[doc_of_clause[c]], the fields' sums added as ranking adds them, in one pass
 *
 * And the loops of a build over every token (retrieval/counts.py, retrieval/index.py), which
 * numpy does by sorting a key per token: counting sorts, in two passes over the tokens.
 * count_terms(ids, offsets, df): df[t] = the clauses holding term t; returns the most times a
 *     term is in one clause
 * place_terms(ids, offsets, indptr, indices, tf): each term's row (``indptr``) filled with the
 *     clauses holding it, ascending, and its count in each
 * transpose(indptr, indices, clause_indptr, terms): each clause's row filled with its terms,
 *     ascending (a term-row matrix's forward lists)
 *
 * Each value is computed exactly as numpy computes ``data * weight`` (in the data's own
 * precision: a float32 row is multiplied by the weight rounded to float32, a Python float
 * being "weak" in numpy) and then widened to float64 and added: the sums have the bits of
 * ``np.add.at(out, clauses, (data * weight).astype(np.float64))``, term after term. Built
 * with -ffp-contract=off so that no multiply-add is fused (which would round once, not twice).
 * retrieval/postings.py wraps these and does the same with numpy where this is not built.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <stdint.h>
#include <string.h>

/* Sums kept in extended precision (x87) or reassociated (-ffast-math) would not have numpy's
 * bits: such a build fails, and the install goes on without this module (numpy does the sums). */
#if FLT_EVAL_METHOD != 0 || defined(__FAST_MATH__)
#error "retrieval/_postings.c needs IEEE double and float arithmetic, each operation rounded"
#endif

typedef struct {
    Py_buffer view;
    int held;
} Held;

static void release(Held *held) {
    if (held->held) {
        PyBuffer_Release(&held->view);
        held->held = 0;
    }
}

/* A C-contiguous one-dimensional buffer of ``expected`` kind ('i': integers of 4 or 8 bytes,
 * 'f': floats of 4 or 8 bytes, 'd': float64 only, 'u': unsigned integers of 2 or 4 bytes,
 * '4': int32 only, '8': int64 only). */
static int take(PyObject *object, Held *held, char expected, int writable, const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(object, &held->view, flags) < 0) {
        return -1;
    }
    held->held = 1;
    const char *format = held->view.format ? held->view.format : "B";
    if (*format == '@' || *format == '=' || *format == '<') {
        format++;
    }
    char kind = format[0];
    Py_ssize_t size = held->view.itemsize;
    int ok = held->view.ndim == 1 && kind != '\0' && format[1] == '\0';
    if (expected == 'i') {
        ok = ok && strchr("ilq", kind) != NULL && (size == 4 || size == 8);
    } else if (expected == 'f') {
        ok = ok && ((kind == 'f' && size == 4) || (kind == 'd' && size == 8));
    } else if (expected == 'u') {
        ok = ok && strchr("HIL", kind) != NULL && (size == 2 || size == 4);
    } else if (expected == '4' || expected == '8') {
        ok = ok && strchr("ilq", kind) != NULL && size == expected - '0';
    } else {
        ok = ok && kind == 'd' && size == 8;
    }
    /* read through typed pointers: an unaligned buffer would fault on some processors */
    ok = ok && size > 0 && (uintptr_t)held->view.buf % (uintptr_t)size == 0;
    if (!ok) {
        PyErr_Format(PyExc_TypeError,
                     "%s: unexpected array type '%s' (%zd bytes, %d dims, or unaligned)", name,
                     format, size, held->view.ndim);
        release(held);
        return -1;
    }
    return 0;
}

static inline int64_t integer_at(const Py_buffer *view, Py_ssize_t i) {
    return view->itemsize == 4 ? (int64_t)((const int32_t *)view->buf)[i]
                               : ((const int64_t *)view->buf)[i];
}

/* Adding rows, a block of clauses at a time: the sums of a block (BLOCK doubles, 32 KB) stay in
 * the first-level cache while every row adds its postings in the block, row after row, so each
 * clause still receives its rows in their order (the bits of adding whole rows one after the
 * other), where whole rows would scatter over sums larger than the second-level cache. */
#define BLOCK 4096

typedef struct {
    const void *clauses;
    const void *data;
    Py_ssize_t index_size, value_size, count, at;
    double weight;
    int64_t last; /* the last clause added: a row's clauses must ascend */
} Row;

/* Adds ``row``'s postings below ``end``; returns 0, or -1 at a clause outside [0, size) or
 * not above the one before. */
#define ADD_BLOCK(INDEX, VALUE, WEIGHT)                                                       \
    do {                                                                                      \
        const INDEX *at = (const INDEX *)row->clauses;                                        \
        const VALUE *values = (const VALUE *)row->data;                                       \
        Py_ssize_t i = row->at;                                                               \
        int64_t last = row->last;                                                             \
        for (; i < row->count && (int64_t)at[i] < end; i++) {                                 \
            int64_t clause = (int64_t)at[i];                                                  \
            if (clause <= last || clause >= size) {                                           \
                row->at = i;                                                                  \
                return -1;                                                                    \
            }                                                                                 \
            last = clause;                                                                    \
            VALUE value = weigh ? values[i] * (WEIGHT) : values[i];                           \
            sums[clause] += (double)value;                                                    \
        }                                                                                     \
        row->at = i;                                                                          \
        row->last = last;                                                                     \
        return 0;                                                                             \
    } while (0)

static int add_block(double *sums, Py_ssize_t size, Row *row, int64_t end) {
    int weigh = row->weight != 1.0;
    float weight32 = (float)row->weight;
    double weight = row->weight;
    if (row->index_size == 4 && row->value_size == 4) {
        ADD_BLOCK(int32_t, float, weight32);
    } else if (row->index_size == 4) {
        ADD_BLOCK(int32_t, double, weight);
    } else if (row->value_size == 4) {
        ADD_BLOCK(int64_t, float, weight32);
    } else {
        ADD_BLOCK(int64_t, double, weight);
    }
}

/* Every row added, block after block; returns the row that failed, or -1. */
static Py_ssize_t add_all(double *sums, Py_ssize_t size, Row *rows, Py_ssize_t count) {
    for (int64_t start = 0; start < (int64_t)size; start += BLOCK) {
        int64_t end = start + BLOCK < (int64_t)size ? start + BLOCK : (int64_t)size;
        for (Py_ssize_t r = 0; r < count; r++) {
            if (add_block(sums, size, &rows[r], end) < 0) {
                return r;
            }
        }
    }
    for (Py_ssize_t r = 0; r < count; r++) { /* a clause at or past ``size`` is left */
        if (rows[r].at < rows[r].count) {
            return r;
        }
    }
    return -1;
}

static PyObject *add_rows(PyObject *module, PyObject *args) {
    PyObject *out_object, *rows_object;
    if (!PyArg_ParseTuple(args, "OO", &out_object, &rows_object)) {
        return NULL;
    }
    PyObject *sequence = PySequence_Tuple(rows_object); /* owns its items: no Python code run
     * below (a weight's __float__) can free a row or shorten the rows */
    if (sequence == NULL) {
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(sequence);
    Held out = {0};
    Held *held = PyMem_Calloc(count > 0 ? 2 * count : 1, sizeof(Held));
    Row *rows = PyMem_Calloc(count > 0 ? count : 1, sizeof(Row));
    PyObject *result = NULL;
    if (held == NULL || rows == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (take(out_object, &out, 'd', 1, "out") < 0) {
        goto done;
    }
    for (Py_ssize_t r = 0; r < count; r++) {
        PyObject *item = PyTuple_GET_ITEM(sequence, r);
        if (!PyTuple_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "a row: (clauses, data, weight)");
            goto done;
        }
        PyObject *clauses_object, *data_object;
        double weight;
        if (!PyArg_ParseTuple(item, "OOd;a row: (clauses, data, weight)", &clauses_object,
                              &data_object, &weight)) {
            goto done;
        }
        Held *clauses = &held[2 * r], *data = &held[2 * r + 1];
        if (take(clauses_object, clauses, 'i', 0, "clauses") < 0 ||
            take(data_object, data, 'f', 0, "data") < 0) {
            goto done;
        }
        if (data->view.shape[0] != clauses->view.shape[0]) {
            PyErr_SetString(PyExc_ValueError, "clauses and data differ in length");
            goto done;
        }
        rows[r] = (Row){clauses->view.buf, data->view.buf, clauses->view.itemsize,
                        data->view.itemsize, clauses->view.shape[0], 0, weight, -1};
    }
    Py_ssize_t failed;
    Py_BEGIN_ALLOW_THREADS
    failed = add_all((double *)out.view.buf, out.view.shape[0], rows, count);
    Py_END_ALLOW_THREADS
    if (failed >= 0) { /* a corrupt row: said, and the sums not to be used */
        PyErr_Format(PyExc_IndexError,
                     "row %zd: clause %lld outside the %zd clauses or not above the one before",
                     failed, (long long)integer_at(&held[2 * failed].view, rows[failed].at),
                     out.view.shape[0]);
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    release(&out);
    if (held != NULL) {
        for (Py_ssize_t r = 0; r < 2 * count; r++) {
            release(&held[r]);
        }
    }
    PyMem_Free(held);
    PyMem_Free(rows);
    Py_DECREF(sequence);
    return result;
}

/* Locating, one loop per type: for each position (ascending), the first clause at or past it,
 * galloping from where the last one was found, then a binary search in the last step. */
#define LOCATE_LOOP(POSITION, INDEX)                                                          \
    do {                                                                                      \
        const POSITION *wanted = (const POSITION *)positions;                                 \
        const INDEX *at = (const INDEX *)clauses;                                             \
        Py_ssize_t low = 0;                                                                   \
        for (Py_ssize_t j = 0; j < count; j++) {                                              \
            int64_t position = (int64_t)wanted[j];                                            \
            Py_ssize_t step = 1, high = low;                                                  \
            while (high < length && (int64_t)at[high] < position) {                           \
                low = high + 1;                                                               \
                high += step;                                                                 \
                step <<= 1;                                                                   \
            }                                                                                 \
            if (high > length) {                                                              \
                high = length;                                                                \
            }                                                                                 \
            while (low < high) {                                                              \
                Py_ssize_t middle = low + (high - low) / 2;                                   \
                if ((int64_t)at[middle] < position) {                                         \
                    low = middle + 1;                                                         \
                } else {                                                                      \
                    high = middle;                                                            \
                }                                                                             \
            }                                                                                 \
            slots[j] = low < length && (int64_t)at[low] == position ? (int64_t)low : -1;      \
        }                                                                                     \
    } while (0)

static void locate_typed(int64_t *slots, const void *positions, Py_ssize_t position_size,
                         Py_ssize_t count, const void *clauses, Py_ssize_t index_size,
                         Py_ssize_t length) {
    if (position_size == 8 && index_size == 4) {
        LOCATE_LOOP(int64_t, int32_t);
    } else if (position_size == 8) {
        LOCATE_LOOP(int64_t, int64_t);
    } else if (index_size == 4) {
        LOCATE_LOOP(int32_t, int32_t);
    } else {
        LOCATE_LOOP(int32_t, int64_t);
    }
}

static PyObject *locate(PyObject *module, PyObject *args) {
    PyObject *slots_object, *positions_object, *clauses_object;
    if (!PyArg_ParseTuple(args, "OOO", &slots_object, &positions_object, &clauses_object)) {
        return NULL;
    }
    Held slots = {0}, positions = {0}, clauses = {0};
    PyObject *result = NULL;
    if (take(slots_object, &slots, 'i', 1, "slots") < 0 ||
        take(positions_object, &positions, 'i', 0, "positions") < 0 ||
        take(clauses_object, &clauses, 'i', 0, "clauses") < 0) {
        goto done;
    }
    Py_ssize_t wanted = positions.view.shape[0], length = clauses.view.shape[0];
    if (slots.view.itemsize != 8 || slots.view.shape[0] != wanted) {
        PyErr_SetString(PyExc_ValueError, "slots: int64, one a position");
        goto done;
    }
    for (Py_ssize_t j = 1; j < wanted; j++) {
        if (integer_at(&positions.view, j) < integer_at(&positions.view, j - 1)) {
            PyErr_SetString(PyExc_ValueError, "positions must ascend");
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    locate_typed((int64_t *)slots.view.buf, positions.view.buf, positions.view.itemsize, wanted,
                 clauses.view.buf, clauses.view.itemsize, length);
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    release(&slots);
    release(&positions);
    release(&clauses);
    return result;
}

/* total[c] = (total[c] + chars[c] * scale) + titles[doc[c]]: numpy's ``total += chars * scale``
 * then ``total += titles[doc]``, each operation rounded as it rounds them. Returns the first
 * clause whose document is outside ``titles`` (``count`` when none). */
#define COMBINE_LOOP(INDEX)                                                                   \
    do {                                                                                      \
        const INDEX *doc = (const INDEX *)docs;                                               \
        for (Py_ssize_t c = 0; c < count; c++) {                                              \
            double sum = total[c];                                                            \
            if (chars != NULL) {                                                              \
                double scaled = chars[c] * scale;                                             \
                sum = sum + scaled;                                                           \
            }                                                                                 \
            if (titles != NULL) {                                                             \
                if ((uint64_t)(int64_t)doc[c] >= (uint64_t)documents) {                        \
                    return c;                                                                 \
                }                                                                             \
                sum = sum + titles[doc[c]];                                                   \
            }                                                                                 \
            total[c] = sum;                                                                   \
        }                                                                                     \
        return count;                                                                         \
    } while (0)

static Py_ssize_t combine_typed(double *total, const double *chars, double scale,
                                const double *titles, Py_ssize_t documents, const void *docs,
                                Py_ssize_t index_size, Py_ssize_t count) {
    if (index_size == 4) {
        COMBINE_LOOP(int32_t);
    }
    COMBINE_LOOP(int64_t);
}

static PyObject *combine(PyObject *module, PyObject *args) {
    PyObject *total_object, *chars_object, *titles_object, *docs_object;
    double scale;
    if (!PyArg_ParseTuple(args, "OOdOO", &total_object, &chars_object, &scale, &titles_object,
                          &docs_object)) {
        return NULL;
    }
    Held total = {0}, chars = {0}, titles = {0}, docs = {0};
    PyObject *result = NULL;
    if (take(total_object, &total, 'd', 1, "total") < 0 ||
        (chars_object != Py_None && take(chars_object, &chars, 'd', 0, "chars") < 0) ||
        (titles_object != Py_None && take(titles_object, &titles, 'd', 0, "titles") < 0) ||
        take(docs_object, &docs, 'i', 0, "doc_of_clause") < 0) {
        goto done;
    }
    Py_ssize_t count = total.view.shape[0];
    if ((chars.held && chars.view.shape[0] != count) || docs.view.shape[0] != count) {
        PyErr_SetString(PyExc_ValueError, "arrays of different lengths");
        goto done;
    }
    Py_ssize_t documents = titles.held ? titles.view.shape[0] : 0, done_count;
    Py_BEGIN_ALLOW_THREADS
    done_count = combine_typed((double *)total.view.buf,
                               chars.held ? (const double *)chars.view.buf : NULL, scale,
                               titles.held ? (const double *)titles.view.buf : NULL, documents,
                               docs.view.buf, docs.view.itemsize, count);
    Py_END_ALLOW_THREADS
    if (done_count < count) {
        PyErr_Format(PyExc_IndexError, "clause %zd of a document outside the %zd documents",
                     done_count, documents);
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    release(&total);
    release(&chars);
    release(&titles);
    release(&docs);
    return result;
}

/* Counting a corpus's terms. Clause ``d``'s tokens are ids[offsets[d]:offsets[d + 1]]; a term's
 * row lists the clauses holding it, ascending, with the times it is in each: what sorting a
 * key (term, clause) per token gives, in two passes over the tokens. ``seen[t]``: the last
 * clause term ``t`` was met in, so a clause's repeats of a term are counted where it was placed. */

/* Checks offsets (ascending, within the tokens, clauses that int32 ids number); returns the
 * clauses, or -1 (error set). */
static Py_ssize_t clause_count(const Held *offsets, Py_ssize_t tokens) {
    const int64_t *at = (const int64_t *)offsets->view.buf;
    Py_ssize_t clauses = offsets->view.shape[0] - 1;
    if (clauses < 0) {
        PyErr_SetString(PyExc_ValueError, "offsets: at least one");
        return -1;
    }
    for (Py_ssize_t d = 0; d < clauses; d++) {
        if (at[d] < 0 || at[d] > at[d + 1]) {
            PyErr_SetString(PyExc_ValueError, "offsets must ascend from 0 or more");
            return -1;
        }
    }
    if (at[clauses] > tokens) {
        PyErr_SetString(PyExc_ValueError, "offsets past the tokens");
        return -1;
    }
    if (clauses > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "more clauses than int32 ids hold");
        return -1;
    }
    return clauses;
}

/* A term's last clause and one 64-bit number per term (a count, a cursor); -1 when out of
 * memory (error set; what was had is freed by the caller). */
static int per_term(Py_ssize_t terms, int32_t **seen, int64_t **numbers) {
    *seen = PyMem_RawMalloc((terms > 0 ? terms : 1) * sizeof(int32_t));
    *numbers = PyMem_RawMalloc((terms > 0 ? terms : 1) * sizeof(int64_t));
    if (*seen == NULL || *numbers == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* Pass one: each term's clauses (``df``) and the most times a term is in one clause; returns
 * -1 at a term id outside [0, terms), with ``*bad`` the token. */
static int64_t count_pass(const int32_t *ids, const int64_t *offsets, Py_ssize_t clauses,
                          int64_t *df, Py_ssize_t terms, int32_t *seen, int64_t *times,
                          Py_ssize_t *bad) {
    int64_t most = 0;
    for (Py_ssize_t t = 0; t < terms; t++) {
        seen[t] = -1;
    }
    for (Py_ssize_t d = 0; d < clauses; d++) {
        for (int64_t i = offsets[d]; i < offsets[d + 1]; i++) {
            int32_t term = ids[i];
            if (term < 0 || term >= terms) {
                *bad = (Py_ssize_t)i;
                return -1;
            }
            if (seen[term] != (int32_t)d) {
                seen[term] = (int32_t)d;
                times[term] = 1;
                df[term]++;
            } else {
                times[term]++;
            }
            if (times[term] > most) {
                most = times[term];
            }
        }
    }
    return most;
}

static PyObject *count_terms(PyObject *module, PyObject *args) {
    PyObject *ids_object, *offsets_object, *df_object;
    if (!PyArg_ParseTuple(args, "OOO", &ids_object, &offsets_object, &df_object)) {
        return NULL;
    }
    Held ids = {0}, offsets = {0}, df = {0};
    int32_t *seen = NULL;
    int64_t *times = NULL;
    PyObject *result = NULL;
    if (take(ids_object, &ids, '4', 0, "ids") < 0 ||
        take(offsets_object, &offsets, '8', 0, "offsets") < 0 ||
        take(df_object, &df, '8', 1, "df") < 0) {
        goto done;
    }
    Py_ssize_t clauses = clause_count(&offsets, ids.view.shape[0]), terms = df.view.shape[0];
    if (clauses < 0 || per_term(terms, &seen, &times) < 0) {
        goto done;
    }
    memset(df.view.buf, 0, terms * sizeof(int64_t));
    int64_t most;
    Py_ssize_t bad = 0;
    Py_BEGIN_ALLOW_THREADS
    most = count_pass((const int32_t *)ids.view.buf, (const int64_t *)offsets.view.buf, clauses,
                      (int64_t *)df.view.buf, terms, seen, times, &bad);
    Py_END_ALLOW_THREADS
    if (most < 0) {
        PyErr_Format(PyExc_IndexError, "token %zd: term %d outside the %zd terms", bad,
                     ((const int32_t *)ids.view.buf)[bad], terms);
        goto done;
    }
    result = PyLong_FromLongLong(most);
done:
    PyMem_RawFree(seen);
    PyMem_RawFree(times);
    release(&ids);
    release(&offsets);
    release(&df);
    return result;
}

/* Pass two, one loop per count type: each new (term, clause) placed at its row's cursor,
 * a repeat counted where it was placed. Returns -1 at a term outside the rows, past its row,
 * or counted past the type. */
#define PLACE_LOOP(COUNT, LIMIT)                                                              \
    do {                                                                                      \
        COUNT *counts = (COUNT *)tf;                                                          \
        for (Py_ssize_t d = 0; d < clauses; d++) {                                            \
            for (int64_t i = offsets[d]; i < offsets[d + 1]; i++) {                           \
                int32_t term = ids[i];                                                        \
                if (term < 0 || term >= terms) {                                              \
                    return -1;                                                                \
                }                                                                             \
                if (seen[term] != (int32_t)d) {                                               \
                    seen[term] = (int32_t)d;                                                  \
                    if (cursor[term] >= indptr[term + 1]) {                                   \
                        return -1;                                                            \
                    }                                                                         \
                    indices[cursor[term]] = (int32_t)d;                                       \
                    counts[cursor[term]] = 1;                                                 \
                    cursor[term]++;                                                           \
                } else {                                                                      \
                    COUNT *count = &counts[cursor[term] - 1];                                 \
                    if (*count == (LIMIT)) {                                                  \
                        return -1;                                                            \
                    }                                                                         \
                    (*count)++;                                                               \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        return 0;                                                                             \
    } while (0)

static int place_pass(const int32_t *ids, const int64_t *offsets, Py_ssize_t clauses,
                      const int64_t *indptr, Py_ssize_t terms, int32_t *indices, void *tf,
                      Py_ssize_t tf_size, int32_t *seen, int64_t *cursor) {
    for (Py_ssize_t t = 0; t < terms; t++) {
        seen[t] = -1;
        cursor[t] = indptr[t];
    }
    if (tf_size == 2) {
        PLACE_LOOP(uint16_t, UINT16_MAX);
    }
    PLACE_LOOP(uint32_t, UINT32_MAX);
}

/* Checks a row pointer: ascending from 0, its last at most ``entries``; returns its rows or -1. */
static Py_ssize_t row_count(const Held *indptr, Py_ssize_t entries, const char *name) {
    const int64_t *at = (const int64_t *)indptr->view.buf;
    Py_ssize_t rows = indptr->view.shape[0] - 1;
    int ok = rows >= 0 && at[0] == 0 && at[rows] <= entries;
    for (Py_ssize_t r = 0; ok && r < rows; r++) {
        ok = at[r] <= at[r + 1];
    }
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "%s: ascending from 0 to at most %zd", name, entries);
        return -1;
    }
    return rows;
}

static PyObject *place_terms(PyObject *module, PyObject *args) {
    PyObject *ids_object, *offsets_object, *indptr_object, *indices_object, *tf_object;
    if (!PyArg_ParseTuple(args, "OOOOO", &ids_object, &offsets_object, &indptr_object,
                          &indices_object, &tf_object)) {
        return NULL;
    }
    Held ids = {0}, offsets = {0}, indptr = {0}, indices = {0}, tf = {0};
    int32_t *seen = NULL;
    int64_t *cursor = NULL;
    PyObject *result = NULL;
    if (take(ids_object, &ids, '4', 0, "ids") < 0 ||
        take(offsets_object, &offsets, '8', 0, "offsets") < 0 ||
        take(indptr_object, &indptr, '8', 0, "indptr") < 0 ||
        take(indices_object, &indices, '4', 1, "indices") < 0 ||
        take(tf_object, &tf, 'u', 1, "tf") < 0) {
        goto done;
    }
    Py_ssize_t entries = indices.view.shape[0];
    if (tf.view.shape[0] != entries) {
        PyErr_SetString(PyExc_ValueError, "indices and tf differ in length");
        goto done;
    }
    Py_ssize_t clauses = clause_count(&offsets, ids.view.shape[0]);
    Py_ssize_t terms = clauses < 0 ? -1 : row_count(&indptr, entries, "indptr");
    if (terms < 0 || per_term(terms, &seen, &cursor) < 0) {
        goto done;
    }
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = place_pass((const int32_t *)ids.view.buf, (const int64_t *)offsets.view.buf,
                        clauses, (const int64_t *)indptr.view.buf, terms,
                        (int32_t *)indices.view.buf, tf.view.buf, tf.view.itemsize, seen,
                        cursor);
    Py_END_ALLOW_THREADS
    if (failed < 0) {
        PyErr_SetString(PyExc_IndexError,
                        "a term outside the rows, past its row, or counted past tf's type");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_RawFree(seen);
    PyMem_RawFree(cursor);
    release(&ids);
    release(&offsets);
    release(&indptr);
    release(&indices);
    release(&tf);
    return result;
}

/* Term rows to clause rows: each clause's terms in term order (a stable sort by clause). */
static int transpose_pass(const int64_t *indptr, Py_ssize_t terms, const int32_t *indices,
                          const int64_t *clause_indptr, Py_ssize_t clauses, int32_t *out,
                          int64_t *cursor) {
    memcpy(cursor, clause_indptr, clauses * sizeof(int64_t));
    for (Py_ssize_t t = 0; t < terms; t++) {
        for (int64_t p = indptr[t]; p < indptr[t + 1]; p++) {
            int32_t clause = indices[p];
            if (clause < 0 || clause >= clauses || cursor[clause] >= clause_indptr[clause + 1]) {
                return -1;
            }
            out[cursor[clause]++] = (int32_t)t;
        }
    }
    return 0;
}

static PyObject *transpose(PyObject *module, PyObject *args) {
    PyObject *indptr_object, *indices_object, *clause_indptr_object, *terms_object;
    if (!PyArg_ParseTuple(args, "OOOO", &indptr_object, &indices_object, &clause_indptr_object,
                          &terms_object)) {
        return NULL;
    }
    Held indptr = {0}, indices = {0}, clause_indptr = {0}, out = {0};
    int64_t *cursor = NULL;
    PyObject *result = NULL;
    if (take(indptr_object, &indptr, '8', 0, "indptr") < 0 ||
        take(indices_object, &indices, '4', 0, "indices") < 0 ||
        take(clause_indptr_object, &clause_indptr, '8', 0, "clause_indptr") < 0 ||
        take(terms_object, &out, '4', 1, "terms") < 0) {
        goto done;
    }
    Py_ssize_t terms = row_count(&indptr, indices.view.shape[0], "indptr");
    Py_ssize_t clauses =
        terms < 0 ? -1 : row_count(&clause_indptr, out.view.shape[0], "clause_indptr");
    if (clauses < 0) {
        goto done;
    }
    if (terms > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "more terms than int32 ids hold");
        goto done;
    }
    cursor = PyMem_RawMalloc((clauses > 0 ? clauses : 1) * sizeof(int64_t));
    if (cursor == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = transpose_pass((const int64_t *)indptr.view.buf, terms,
                            (const int32_t *)indices.view.buf,
                            (const int64_t *)clause_indptr.view.buf, clauses,
                            (int32_t *)out.view.buf, cursor);
    Py_END_ALLOW_THREADS
    if (failed < 0) {
        PyErr_SetString(PyExc_IndexError, "a clause outside the rows or past its row");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_RawFree(cursor);
    release(&indptr);
    release(&indices);
    release(&clause_indptr);
    release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"add_rows", add_rows, METH_VARARGS,
     "add_rows(out, rows): out[clauses] += data * weight for each (clauses, data, weight) of "
     "rows, in their order (each row's clauses ascending)"},
    {"locate", locate, METH_VARARGS,
     "locate(slots, positions, clauses): slots[j] = i where clauses[i] == positions[j], else "
     "-1 (both ascending)"},
    {"combine", combine, METH_VARARGS,
     "combine(total, chars, scale, titles, doc_of_clause): total = (total + chars * scale) + "
     "titles[doc_of_clause] (chars, titles: None to leave out)"},
    {"count_terms", count_terms, METH_VARARGS,
     "count_terms(ids, offsets, df) -> int: df[t] = clauses holding term t; returns the most "
     "times a term is in one clause"},
    {"place_terms", place_terms, METH_VARARGS,
     "place_terms(ids, offsets, indptr, indices, tf): the term rows filled, clauses ascending"},
    {"transpose", transpose, METH_VARARGS,
     "transpose(indptr, indices, clause_indptr, terms): each clause's terms, ascending"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "retrieval._postings",
    "Loops over a BM25 field's postings (see retrieval/postings.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__postings(void) { return PyModule_Create(&module); }
