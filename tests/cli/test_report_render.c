/* The training report's C entry points (tools/report.h) as `alae serve --run` uses them:
 * refresh_seconds, the errors, report_write, and renders on several threads at once. The
 * contents of the report are tested through `alae report` (test_report.sh). */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "test_util.h"

static char run_dir[256];

static void write_text(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", run_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void make_run(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(run_dir, sizeof run_dir, "%s/alae-report-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(run_dir));
    write_text("log.csv", "step,images,lod,blend,loss_d,loss_g,loss_ae,r1,seconds\n"
                          "1,32,0,1,2.5,1.5,0.5,0.25,0.5\n2,64,1,0.5,2.0,1.4,0.4,0.2,1.0\n3,96,1,1,1.8,1.3,0.3,0.1,1.5\n");
    write_text("train-run.txt", "seed 1\npreset mnist\n");
    write_text("eval.json", "{\"mse\": 0.5}\n");
}

static void remove_run(void) {
    DIR *d = opendir(run_dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        char path[512];
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", run_dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(run_dir);
}

/* The report with its "written ... at <time> UTC" time blanked, so that two renders compare;
 * NULL on failure (no ck_assert: the threads call it too). */
static char *render_masked_or_null(int refresh, size_t *len) {
    char *html = NULL, err[256] = "";
    if (report_render_html(run_dir, refresh, &html, len, err, sizeof err) != 0 || strlen(html) != *len) {
        fprintf(stderr, "render: %s\n", err);
        free(html);
        return NULL;
    }
    char *at = strstr(html, " UTC");
    if (!at || at - html < 19) {
        free(html);
        return NULL;
    }
    memset(at - 19, '#', 19); /* YYYY-MM-DD HH:MM:SS */
    return html;
}

static char *render_masked(int refresh, size_t *len) {
    char *html = render_masked_or_null(refresh, len);
    ck_assert_ptr_nonnull(html);
    return html;
}

START_TEST(refresh_adds_meta_refresh) {
    size_t len;
    char *live = render_masked(7, &len), *still = render_masked(0, &len);
    ck_assert_ptr_nonnull(strstr(live, "<meta http-equiv=\"refresh\" content=\"7\">"));
    ck_assert_ptr_nonnull(strstr(live, "refreshes every 7 s"));
    ck_assert_ptr_null(strstr(still, "http-equiv"));
    ck_assert_ptr_null(strstr(still, "refreshes every"));
    ck_assert_ptr_nonnull(strstr(still, "id=\"plot-lod\""));
    ck_assert_ptr_nonnull(strstr(still, "<td>0.5</td>")); /* eval.json */
    free(live);
    free(still);
}
END_TEST

START_TEST(errors_say_what_and_where) {
    char *html = (char *)1, err[256] = "";
    size_t len = 99;
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none\nforged line", run_dir);
    ck_assert_int_ne(report_render_html(missing, 0, &html, &len, err, sizeof err), 0);
    ck_assert_ptr_null(html);
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_nonnull(strstr(err, "cannot open the run folder"));
    ck_assert_ptr_nonnull(strstr(err, "none?forged line")); /* the newline shown as '?' */
    char file[300];
    snprintf(file, sizeof file, "%s/log.csv", run_dir);
    ck_assert_int_ne(report_render_html(file, 0, &html, &len, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "not a directory"));
    char tiny[8];
    ck_assert_int_ne(report_render_html(file, 0, &html, &len, tiny, sizeof tiny), 0); /* cut, terminated */
    ck_assert_uint_lt(strlen(tiny), sizeof tiny);
    ck_assert_int_ne(report_render_html(file, 0, &html, &len, NULL, 0), 0);
    ck_assert_int_ne(report_write(file, err, sizeof err), 0);
}
END_TEST

START_TEST(report_write_replaces_the_file) {
    char err[256] = "", path[512];
    snprintf(path, sizeof path, "%s/report.html", run_dir);
    write_text("report.html", "old");
    ck_assert_msg(report_write(run_dir, err, sizeof err) == 0, "%s", err);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char head[16] = "";
    ck_assert_uint_eq(fread(head, 1, 15, f), 15);
    fclose(f);
    ck_assert_str_eq(head, "<!DOCTYPE html>");
    DIR *d = opendir(run_dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        ck_assert_msg(strstr(e->d_name, ".tmp.") == NULL, "temporary file %s left", e->d_name);
    closedir(d);
}
END_TEST

#define THREADS 6
#define RENDERS 10

typedef struct job {
    const char *expected;
    size_t len;
    int mismatches;
} job;

static void *render_repeatedly(void *arg) {
    job *j = arg;
    for (int i = 0; i < RENDERS; i++) {
        size_t len;
        char *html = render_masked_or_null(3, &len);
        j->mismatches += !html || len != j->len || memcmp(html, j->expected, len) != 0;
        free(html);
    }
    return NULL;
}

START_TEST(renders_on_several_threads_agree) {
    size_t len;
    char *expected = render_masked(3, &len);
    pthread_t threads[THREADS];
    job jobs[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (job){expected, len, 0};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, render_repeatedly, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        ck_assert_int_eq(jobs[t].mismatches, 0);
    }
    free(expected);
}
END_TEST

static Suite *report_suite(void) {
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("entry points");
    tcase_add_checked_fixture(tc, make_run, remove_run);
    tcase_add_test(tc, refresh_adds_meta_refresh);
    tcase_add_test(tc, errors_say_what_and_where);
    tcase_add_test(tc, report_write_replaces_the_file);
    tcase_add_test(tc, renders_on_several_threads_agree);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return alae_test_run_suite(report_suite()); }
