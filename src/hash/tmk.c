/* TMK+PDQF: the temporal-match-kernel signature of tmk/cpp, its .tmk file and its two scores.
 *
 * Arithmetic follows the reference's types step by step (float accumulators fed by double cos/sin
 * products, float dot products, the incremental cos/sin recurrence of the level-2 score) so that
 * signatures and scores agree with the reference's to float rounding. The frame feature is the
 * 16x16 float DCT of PDQ over the 64x64 luma (a 64x64 picture skips PDQ's blur). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "hash/pdq_int.h"
#include "hash/vpdq_int.h"
#include "takedown/media.h"
#include "takedown/video_hash.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Poullot et al.'s periods (in frames at 15 fps) and Fourier coefficients (beta = 32, m = 32):
 * a_0 = (I_0(b) - e^-b) / (2 sinh b), a_j = I_j(b) / sinh b, tabulated as the reference does. */
static const int32_t poullot_periods[TD_TMK_PERIODS] = {2731, 4391, 9767, 14653};
static const float poullot_coeffs[TD_TMK_COEFFS] = {
    0.0708041893112f,   0.13937789309f,     0.132897260304f,    0.122765735552f,
    0.109878684888f,    0.09529606433f,     0.0800986647852f,   0.0652590650356f,
    0.0515478238322f,   0.0394851531195f,   0.0293374252025f,   0.0211492623679f,
    0.0147973073245f,   0.0100512818746f,   0.0066306408014f,   0.00424947117334f,
    0.0026467615764f,   0.00160270959695f,  0.000943882629639f, 0.000540841638603f,
    0.000301633183798f, 0.000163800158855f, 8.66454753015e-05f, 4.46626303151e-05f,
    2.24429442235e-05f, 1.09982139799e-05f, 5.25823487999e-06f, 2.45358229988e-06f,
    1.11781474895e-06f, 4.97406489221e-07f, 2.16265487234e-07f, 9.19087006565e-08f};

static const char header_magic[12] = {'T', 'M', 'K', '1', 'F', 'V', 'E', 'C', 'P', 'D', 'Q', 'F'};

/* ---- vector helpers with the reference's float order ---- */

static float norm(const float *u, int n)
{
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += u[i] * u[i];
    return sqrtf(sum);
}

static float dot(const float *u, const float *v, int n)
{
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += u[i] * v[i];
    return sum;
}

static void l2_normalize(float *u, int n)
{
    float nu = norm(u, n);
    if (nu > 0.0f)
        for (int i = 0; i < n; i++)
            u[i] /= nu;
}

/* ---- building ---- */

struct td__tmk_builder {
    td_tmk *tmk; /* sums while building */
    float last[TD_TMK_DIM];
    int have_last;
    double cos_arg[TD_TMK_PERIODS][TD_TMK_COEFFS];
    double sin_arg[TD_TMK_PERIODS][TD_TMK_COEFFS];
};

td_status td__tmk_builder_new(td__tmk_builder **out, td_error *err)
{
    *out = NULL;
    td__tmk_builder *b = td__calloc(1, sizeof *b);
    td_tmk *t = td__calloc(1, sizeof *t);
    if (!b || !t) {
        td__free(b);
        td__free(t);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    t->fps = TD_TMK_FPS;
    memcpy(t->periods, poullot_periods, sizeof t->periods);
    memcpy(t->coeffs, poullot_coeffs, sizeof t->coeffs);
    b->tmk = t;
    *out = b;
    return TD_OK;
}

static void ingest(td__tmk_builder *b, const float *feature)
{
    td_tmk *t = b->tmk;
    float unit[TD_TMK_DIM];
    for (int k = 0; k < TD_TMK_DIM; k++) {
        t->average[k] += feature[k];
        unit[k] = feature[k];
    }
    l2_normalize(unit, TD_TMK_DIM);
    double frame = (double)t->frame_count;
    for (int i = 0; i < TD_TMK_PERIODS; i++) {
        for (int k = 0; k < TD_TMK_DIM; k++)
            t->cos[i][0][k] += unit[k];
        for (int j = 1; j < TD_TMK_COEFFS; j++) {
            double arg = 2.0 * M_PI * (double)j * frame / (double)t->periods[i];
            double c = cos(arg), s = sin(arg);
            float *cv = t->cos[i][j], *sv = t->sin[i][j];
            for (int k = 0; k < TD_TMK_DIM; k++) {
                cv[k] = (float)((double)cv[k] + (double)unit[k] * c);
                sv[k] = (float)((double)sv[k] + (double)unit[k] * s);
            }
        }
    }
    t->frame_count++;
}

td_status td__tmk_builder_add(td__tmk_builder *b, const td_image *img, unsigned copies,
                              td_error *err)
{
    if (img->width != 64 || img->height != 64 || img->channels != 3)
        return td__error_set(err, TD_ERR_INTERNAL, "TMK frames must be 64x64 RGB");
    float luma[64 * 64];
    td__pdq_luma(img->pixels, 3, 64 * 64, luma);
    td__pdq_dct16(luma, b->last);
    b->have_last = 1;
    for (unsigned c = 0; c < copies; c++) {
        if (b->tmk->frame_count == INT32_MAX)
            return td__error_set(err, TD_ERR_LIMIT, "too many frames for a TMK signature");
        ingest(b, b->last);
    }
    return TD_OK;
}

void td__tmk_builder_repeat_last(td__tmk_builder *b, unsigned copies)
{
    for (unsigned c = 0; b->have_last && c < copies && b->tmk->frame_count < INT32_MAX; c++)
        ingest(b, b->last);
}

td_tmk *td__tmk_builder_finish(td__tmk_builder *b)
{
    td_tmk *t = b->tmk;
    if (t->frame_count > 0) {
        for (int k = 0; k < TD_TMK_DIM; k++)
            t->average[k] /= (float)t->frame_count;
        for (int i = 0; i < TD_TMK_PERIODS; i++) {
            for (int j = 0; j < TD_TMK_COEFFS; j++) {
                float scale = sqrtf(t->coeffs[j]);
                l2_normalize(t->cos[i][j], TD_TMK_DIM);
                l2_normalize(t->sin[i][j], TD_TMK_DIM);
                for (int k = 0; k < TD_TMK_DIM; k++) {
                    t->cos[i][j][k] *= scale;
                    t->sin[i][j][k] *= scale;
                }
            }
        }
    }
    b->tmk = NULL;
    td__free(b);
    return t;
}

void td__tmk_builder_free(td__tmk_builder *b)
{
    if (!b)
        return;
    td__free(b->tmk);
    td__free(b);
}

/* ---- files ---- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t *put_floats(uint8_t *p, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++, p += 4) {
        uint32_t bits;
        memcpy(&bits, &v[i], 4);
        put32(p, bits);
    }
    return p;
}

static const uint8_t *get_floats(const uint8_t *p, float *v, size_t n, int *bad)
{
    for (size_t i = 0; i < n; i++, p += 4) {
        uint32_t bits = get32(p);
        memcpy(&v[i], &bits, 4);
        if (!isfinite(v[i]))
            *bad = 1;
    }
    return p;
}

void td_tmk_write(const td_tmk *t, uint8_t out[TD_TMK_FILE_BYTES])
{
    uint8_t *p = out;
    memcpy(p, header_magic, sizeof header_magic);
    p += sizeof header_magic;
    const int32_t fields[5] = {t->fps, TD_TMK_PERIODS, TD_TMK_COEFFS, TD_TMK_DIM, t->frame_count};
    for (int i = 0; i < 5; i++, p += 4)
        put32(p, (uint32_t)fields[i]);
    for (int i = 0; i < TD_TMK_PERIODS; i++, p += 4)
        put32(p, (uint32_t)t->periods[i]);
    p = put_floats(p, t->coeffs, TD_TMK_COEFFS);
    p = put_floats(p, t->average, TD_TMK_DIM);
    p = put_floats(p, &t->cos[0][0][0], (size_t)TD_TMK_PERIODS * TD_TMK_COEFFS * TD_TMK_DIM);
    put_floats(p, &t->sin[0][0][0], (size_t)TD_TMK_PERIODS * TD_TMK_COEFFS * TD_TMK_DIM);
}

td_status td_tmk_read(const uint8_t *data, size_t len, td_tmk **out, td_error *err)
{
    *out = NULL;
    if (len != TD_TMK_FILE_BYTES)
        return td__error_set(err, TD_ERR_CORRUPT, "a .tmk file has %d bytes, not %zu",
                             TD_TMK_FILE_BYTES, len);
    if (memcmp(data, header_magic, 8) != 0)
        return td__error_set(err, TD_ERR_CORRUPT, "not a TMK feature-vector file (bad magic)");
    if (memcmp(data + 8, header_magic + 8, 4) != 0)
        return td__error_set(err, TD_ERR_UNSUPPORTED, "frame algorithm is not PDQF");
    const uint8_t *p = data + 12;
    int32_t fps = (int32_t)get32(p), np = (int32_t)get32(p + 4), nc = (int32_t)get32(p + 8),
            dim = (int32_t)get32(p + 12), count = (int32_t)get32(p + 16);
    p += 20;
    if (np != TD_TMK_PERIODS || nc != TD_TMK_COEFFS || dim != TD_TMK_DIM)
        return td__error_set(err, TD_ERR_UNSUPPORTED,
                             "TMK layout P=%d m=%d d=%d (only 4, 32, 256 are supported)", np, nc,
                             dim);
    if (fps <= 0 || count < 0)
        return td__error_set(err, TD_ERR_CORRUPT, "bad TMK header (fps %d, frames %d)", fps, count);
    td_tmk *t = td__malloc(sizeof *t);
    if (!t)
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    t->fps = fps;
    t->frame_count = count;
    for (int i = 0; i < TD_TMK_PERIODS; i++, p += 4) {
        t->periods[i] = (int32_t)get32(p);
        if (t->periods[i] <= 0 || t->periods[i] > 1000000) {
            td__free(t);
            return td__error_set(err, TD_ERR_CORRUPT, "bad TMK period %d", (int)get32(p));
        }
    }
    int bad = 0;
    p = get_floats(p, t->coeffs, TD_TMK_COEFFS, &bad);
    p = get_floats(p, t->average, TD_TMK_DIM, &bad);
    p = get_floats(p, &t->cos[0][0][0], (size_t)TD_TMK_PERIODS * TD_TMK_COEFFS * TD_TMK_DIM, &bad);
    get_floats(p, &t->sin[0][0][0], (size_t)TD_TMK_PERIODS * TD_TMK_COEFFS * TD_TMK_DIM, &bad);
    if (bad) {
        td__free(t);
        return td__error_set(err, TD_ERR_CORRUPT, "TMK file holds a NaN or infinite value");
    }
    *out = t;
    return TD_OK;
}

td_status td_tmk_load(const char *path, td_tmk **out, td_error *err)
{
    uint8_t *data;
    size_t len;
    *out = NULL;
    td_status s = td_file_read(path, TD_TMK_FILE_BYTES, &data, &len, err);
    if (s != TD_OK)
        return s;
    s = td_tmk_read(data, len, out, err);
    td_free(data);
    if (s != TD_OK)
        td__error_prefix(err, "%s: ", path);
    return s;
}

td_status td_tmk_save(const td_tmk *t, const char *path, td_error *err)
{
    uint8_t *buf = td__malloc(TD_TMK_FILE_BYTES);
    size_t tmp_len = strlen(path) + 16;
    char *tmp = td__malloc(tmp_len);
    if (!buf || !tmp) {
        td__free(buf);
        td__free(tmp);
        return td__error_set(err, TD_ERR_NOMEM, "out of memory");
    }
    snprintf(tmp, tmp_len, "%s.tmp%ld", path, (long)getpid());
    td_tmk_write(t, buf);
    td_status s = TD_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        s = td__error_set(err, TD_ERR_IO, "%s: cannot create", tmp);
    } else {
        size_t wrote = fwrite(buf, 1, TD_TMK_FILE_BYTES, f);
        int closed = fclose(f);
        if (wrote != TD_TMK_FILE_BYTES || closed != 0)
            s = td__error_set(err, TD_ERR_IO, "%s: write failed", tmp);
        else if (rename(tmp, path) != 0)
            s = td__error_set(err, TD_ERR_IO, "%s: cannot rename into place", path);
        if (s != TD_OK)
            unlink(tmp);
    }
    td__free(buf);
    td__free(tmp);
    return s;
}

/* ---- scores ---- */

float td_tmk_level1(const td_tmk *a, const td_tmk *b)
{
    float na = norm(a->average, TD_TMK_DIM), nb = norm(b->average, TD_TMK_DIM);
    if (na == 0.0f && nb == 0.0f)
        return 0.0f;
    return dot(a->average, b->average, TD_TMK_DIM) / (na * nb);
}

float td_tmk_level2(const td_tmk *a, const td_tmk *b)
{
    float normalizer = a->coeffs[0];
    for (int j = 1; j < TD_TMK_COEFFS; j++)
        normalizer = (float)((double)normalizer + 2.0 * (double)a->coeffs[j]);

    float best_of_all = 0.0f;
    for (int i = 0; i < TD_TMK_PERIODS; i++) {
        float cc[TD_TMK_COEFFS], ss[TD_TMK_COEFFS], sc[TD_TMK_COEFFS], cs[TD_TMK_COEFFS];
        for (int j = 0; j < TD_TMK_COEFFS; j++) {
            cc[j] = dot(a->cos[i][j], b->cos[i][j], TD_TMK_DIM);
            ss[j] = dot(a->sin[i][j], b->sin[i][j], TD_TMK_DIM);
            sc[j] = dot(a->sin[i][j], b->cos[i][j], TD_TMK_DIM);
            cs[j] = dot(a->cos[i][j], b->sin[i][j], TD_TMK_DIM);
        }
        int period = a->periods[i];
        float best = 0.0f;
        for (int offset = 0; offset < period; offset++) {
            float delta = (float)(2.0 * M_PI * (double)(float)offset / (double)(float)period);
            float k_delta = cc[0];
            /* Incremental cos(j delta), sin(j delta) as the reference computes them. */
            float cos_jd = 1.0f, sin_jd = 0.0f;
            float beta = (float)sin((double)delta);
            float alpha = (float)sin((double)(delta / 2));
            alpha = 2 * alpha * alpha;
            for (int j = 1; j < TD_TMK_COEFFS; j++) {
                float n_cos = (alpha * cos_jd) + (beta * sin_jd);
                float n_sin = (alpha * sin_jd) - (beta * cos_jd);
                cos_jd -= n_cos;
                sin_jd -= n_sin;
                k_delta += cos_jd * (cc[j] + ss[j]);
                k_delta += sin_jd * (sc[j] - cs[j]);
            }
            if (offset == 0 || k_delta > best)
                best = k_delta;
        }
        if (i == 0 || best > best_of_all)
            best_of_all = best;
    }
    return best_of_all / normalizer;
}
