/* jieba's loops over a sentence's characters, compiled: the dictionary words starting at each
 * character and the most probable way through them (jieba's ``get_DAG`` and ``calc``), the walk
 * of that way (``__cut_DAG``), the HMM's Viterbi for the runs no word covers (``finalseg``) and
 * search mode's shorter words (``cut_for_search``). jieba runs them in Python for every piece of
 * text it cuts: on real policy pages, most of a first build. Same dictionary, same arithmetic in
 * the same order, the same results (tests compare them with jieba's own on real pages; see
 * retrieval/segment.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>

#if FLT_EVAL_METHOD != 0 || defined(__FAST_MATH__)
#error "retrieval/_segment.c needs IEEE double arithmetic, each operation rounded"
#endif

/* ``frequencies[text]`` (borrowed) or NULL when absent (or on an error, then set). */
static PyObject *lookup(PyObject *frequencies, PyObject *sentence, Py_ssize_t start,
                        Py_ssize_t end) {
    PyObject *fragment = PyUnicode_Substring(sentence, start, end);
    if (fragment == NULL) {
        return NULL;
    }
    PyObject *value = PyDict_GetItemWithError(frequencies, fragment);
    Py_DECREF(fragment);
    return value;
}

/* Appends ``sentence[start:end]`` to ``out``; -1 on an error. */
static int append_slice(PyObject *out, PyObject *sentence, Py_ssize_t start, Py_ssize_t end) {
    PyObject *word = PyUnicode_Substring(sentence, start, end);
    if (word == NULL) {
        return -1;
    }
    int failed = PyList_Append(out, word);
    Py_DECREF(word);
    return failed;
}

/* A run of single characters the best way left between words (jieba's ``buf``): one character
 * alone; a run the dictionary counts, its characters; any other run as a 1-tuple, which the
 * caller hands to jieba's HMM (``finalseg.cut``). */
static int flush_run(PyObject *out, PyObject *sentence, PyObject *frequencies, Py_ssize_t start,
                     Py_ssize_t end) {
    if (end - start == 1) {
        return append_slice(out, sentence, start, end);
    }
    PyObject *run = PyUnicode_Substring(sentence, start, end);
    if (run == NULL) {
        return -1;
    }
    PyObject *value = PyDict_GetItemWithError(frequencies, run);
    int counted = 0;
    if (value != NULL) {
        counted = PyObject_IsTrue(value);
    } else if (PyErr_Occurred()) {
        counted = -1;
    }
    int failed = counted < 0;
    if (!failed && counted) {
        for (Py_ssize_t i = start; i < end && !failed; i++) {
            failed = append_slice(out, sentence, i, i + 1) < 0;
        }
    } else if (!failed) {
        PyObject *unknown = PyTuple_Pack(1, run);
        failed = unknown == NULL || PyList_Append(out, unknown) < 0;
        Py_XDECREF(unknown);
    }
    Py_DECREF(run);
    return failed ? -1 : 0;
}

/* cut_dag(sentence, frequencies, log_total) -> [word or (run,), ...]: jieba's ``__cut_DAG``
 * without its HMM: the DAG and the best route of ``get_DAG`` and ``calc`` found in one pass
 * from the end (a word's ends are met in the order the DAG lists them), then the route walked
 * as jieba walks it. */
static PyObject *cut_dag(PyObject *module, PyObject *args) {
    PyObject *sentence, *frequencies;
    double log_total;
    if (!PyArg_ParseTuple(args, "UO!d", &sentence, &PyDict_Type, &frequencies, &log_total)) {
        return NULL;
    }
    Py_ssize_t count = PyUnicode_GET_LENGTH(sentence);
    double *best = PyMem_Malloc(sizeof(double) * (size_t)(count + 1));
    Py_ssize_t *next = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(count + 1));
    PyObject *out = NULL;
    if (best == NULL || next == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    best[count] = 0.0;
    for (Py_ssize_t k = count - 1; k >= 0; k--) {
        double top = 0.0;
        Py_ssize_t top_end = -1;
        for (Py_ssize_t i = k; i < count; i++) {
            PyObject *value = lookup(frequencies, sentence, k, i + 1);
            if (value == NULL) {
                if (PyErr_Occurred()) {
                    goto done;
                }
                break;
            }
            int positive = PyObject_IsTrue(value);
            if (positive < 0) {
                goto done;
            }
            if (!positive) {
                continue;
            }
            double frequency = PyFloat_AsDouble(value);
            if (frequency == -1.0 && PyErr_Occurred()) {
                goto done;
            }
            double score = (log(frequency) - log_total) + best[i + 1];
            if (top_end < 0 || score > top || (score == top && i > top_end)) {
                top = score;
                top_end = i;
            }
        }
        if (top_end < 0) { /* no word from k: the character alone, counted 1 */
            top = (log(1.0) - log_total) + best[k + 1];
            top_end = k;
        }
        best[k] = top;
        next[k] = top_end + 1;
    }
    out = PyList_New(0);
    if (out == NULL) {
        goto done;
    }
    Py_ssize_t run = -1; /* where the run of single characters starts (-1: none) */
    for (Py_ssize_t x = 0; x < count;) {
        Py_ssize_t y = next[x];
        if (y - x == 1) {
            if (run < 0) {
                run = x;
            }
        } else {
            if ((run >= 0 && flush_run(out, sentence, frequencies, run, x) < 0) ||
                append_slice(out, sentence, x, y) < 0) {
                Py_CLEAR(out);
                goto done;
            }
            run = -1;
        }
        x = y;
    }
    if (run >= 0 && flush_run(out, sentence, frequencies, run, count) < 0) {
        Py_CLEAR(out);
    }
done:
    PyMem_Free(best);
    PyMem_Free(next);
    return out;
}

/* search_words(words, frequencies) -> [...]: jieba's ``cut_for_search`` after its cut: before
 * each word longer than two characters, its two-character words, then (longer than three) its
 * three-character words, that the dictionary counts. */
static PyObject *search_words(PyObject *module, PyObject *args) {
    PyObject *words, *frequencies;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &words, &PyDict_Type, &frequencies)) {
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t w = 0; w < PyList_GET_SIZE(words); w++) {
        PyObject *word = PyList_GET_ITEM(words, w);
        if (!PyUnicode_Check(word)) {
            PyErr_SetString(PyExc_TypeError, "search_words: words must be str");
            goto fail;
        }
        Py_ssize_t length = PyUnicode_GET_LENGTH(word);
        for (Py_ssize_t gram = 2; gram <= 3; gram++) {
            if (length <= gram) {
                break;
            }
            for (Py_ssize_t i = 0; i + gram <= length; i++) {
                PyObject *value = lookup(frequencies, word, i, i + gram);
                if (value == NULL) {
                    if (PyErr_Occurred()) {
                        goto fail;
                    }
                    continue;
                }
                int positive = PyObject_IsTrue(value);
                if (positive < 0 || (positive && append_slice(out, word, i, i + gram) < 0)) {
                    goto fail;
                }
            }
        }
        if (PyList_Append(out, word) < 0) {
            goto fail;
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* jieba's HMM (``finalseg``): each character of a run no dictionary word covers labelled
 * B(egin), M(iddle), E(nd) or S(ingle) by Viterbi over the model's log probabilities, then
 * cut where the labels say. The states in jieba's order; each one's possible predecessors. */
static const char STATES[4] = {'B', 'M', 'E', 'S'};
static const int PREVIOUS[4][2] = {{2, 3}, {1, 0}, {0, 1}, {3, 2}}; /* B: ES, M: MB, E: BM, S: SE */
#define MIN_FLOAT (-3.14e100)

/* ``table[state]`` (a dict) as jieba reads it: table[state].get(key, MIN_FLOAT); -1 on error. */
static int model_value(PyObject *table, const char *state, PyObject *key, double *value) {
    PyObject *row = PyDict_GetItemString(table, state); /* borrowed; no error raised */
    if (row == NULL || !PyDict_Check(row)) {
        PyErr_Format(PyExc_ValueError, "the HMM model has no row for state %s", state);
        return -1;
    }
    PyObject *found = PyDict_GetItemWithError(row, key);
    if (found == NULL) {
        if (PyErr_Occurred()) {
            return -1;
        }
        *value = MIN_FLOAT;
        return 0;
    }
    *value = PyFloat_AsDouble(found);
    return (*value == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

/* hmm_words(block, start, trans, emit) -> [word, ...]: ``finalseg.__cut`` of a block of
 * Chinese characters (``viterbi`` over 'BMES', then the cut). */
static PyObject *hmm_words(PyObject *module, PyObject *args) {
    PyObject *block, *start_p, *trans_p, *emit_p;
    if (!PyArg_ParseTuple(args, "UO!O!O!", &block, &PyDict_Type, &start_p, &PyDict_Type,
                          &trans_p, &PyDict_Type, &emit_p)) {
        return NULL;
    }
    Py_ssize_t count = PyUnicode_GET_LENGTH(block);
    if (count == 0) {
        return PyList_New(0);
    }
    double trans[4][4], start[4];
    for (int y = 0; y < 4; y++) {
        char state[2] = {STATES[y], '\0'};
        PyObject *value = PyDict_GetItemString(start_p, state);
        if (value == NULL) {
            return PyErr_Format(PyExc_ValueError, "the HMM model has no start for %s", state);
        }
        start[y] = PyFloat_AsDouble(value);
        if (start[y] == -1.0 && PyErr_Occurred()) {
            return NULL;
        }
        for (int x = 0; x < 4; x++) {
            char to[2] = {STATES[x], '\0'};
            PyObject *key = PyUnicode_FromString(to);
            int failed = key == NULL || model_value(trans_p, state, key, &trans[y][x]) < 0;
            Py_XDECREF(key);
            if (failed) {
                return NULL;
            }
        }
    }
    double *score = PyMem_Malloc(sizeof(double) * 4 * (size_t)count);
    signed char *back = PyMem_Malloc(4 * (size_t)count);
    PyObject *out = NULL;
    if (score == NULL || back == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t t = 0; t < count; t++) {
        PyObject *character = PyUnicode_Substring(block, t, t + 1);
        if (character == NULL) {
            goto done;
        }
        for (int y = 0; y < 4; y++) {
            char state[2] = {STATES[y], '\0'};
            double emit;
            if (model_value(emit_p, state, character, &emit) < 0) {
                Py_DECREF(character);
                goto done;
            }
            if (t == 0) {
                score[y] = start[y] + emit;
                back[y] = -1;
                continue;
            }
            /* jieba's max of (probability, previous state): on a tie, the greater letter */
            int first = PREVIOUS[y][0], second = PREVIOUS[y][1];
            double a = (score[4 * (t - 1) + first] + trans[first][y]) + emit;
            double b = (score[4 * (t - 1) + second] + trans[second][y]) + emit;
            int take_b = b > a || (b == a && STATES[second] > STATES[first]);
            score[4 * t + y] = take_b ? b : a;
            back[4 * t + y] = (signed char)(take_b ? second : first);
        }
        Py_DECREF(character);
    }
    /* the last character ends a word: E or S, the greater letter (S) on a tie */
    int state = score[4 * (count - 1) + 3] >= score[4 * (count - 1) + 2] ? 3 : 2;
    char *labels = PyMem_Malloc((size_t)count);
    if (labels == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t t = count - 1; t >= 0; t--) {
        labels[t] = STATES[state];
        state = back[4 * t + state];
    }
    out = PyList_New(0);
    Py_ssize_t begin = 0, next = 0;
    for (Py_ssize_t i = 0; out != NULL && i < count; i++) {
        if (labels[i] == 'B') {
            begin = i;
        } else if (labels[i] == 'E' || labels[i] == 'S') {
            Py_ssize_t from = labels[i] == 'E' ? begin : i;
            if (append_slice(out, block, from, i + 1) < 0) {
                Py_CLEAR(out);
            }
            next = i + 1;
        }
    }
    if (out != NULL && next < count && append_slice(out, block, next, count) < 0) {
        Py_CLEAR(out);
    }
    PyMem_Free(labels);
done:
    PyMem_Free(score);
    PyMem_Free(back);
    return out;
}

static PyMethodDef methods[] = {
    {"cut_dag", cut_dag, METH_VARARGS,
     "cut_dag(sentence, frequencies, log_total) -> list: jieba's __cut_DAG, the runs its HMM "
     "cuts given as 1-tuples"},
    {"hmm_words", hmm_words, METH_VARARGS,
     "hmm_words(block, start, trans, emit) -> list: jieba's finalseg.__cut of a block of "
     "Chinese characters"},
    {"search_words", search_words, METH_VARARGS,
     "search_words(words, frequencies) -> list: jieba's cut_for_search after its cut"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "retrieval._segment",
    "jieba's dictionary lookups over a sentence, compiled (see retrieval/segment.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__segment(void) { return PyModule_Create(&module); }
