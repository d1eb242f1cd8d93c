/* watch_marker.c -- the markers of taken files. See watch_marker.h. */
#include "watch_marker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

int watch_marker_path(char *buf, size_t size, const char *dir, const char *watch, const char *file)
{
	int n = file != NULL ? snprintf(buf, size, "%s/%s/%s/%s", dir, ".sluice", watch, file)
	                     : snprintf(buf, size, "%s/%s/%s", dir, ".sluice", watch);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int watch_marker_exists(const char *dir, const char *watch, const char *file)
{
	char path[PATH_MAX];
	struct stat st;

	if (watch_marker_path(path, sizeof(path), dir, watch, file) != 0)
		return -ENAMETOOLONG;
	if (stat(path, &st) == 0)
		return 1;
	return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
}

static int mkdir_ok(const char *path)
{
	return mkdir(path, 0750) == 0 || errno == EEXIST ? 0 : -1;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	/* Some file systems (FUSE, old NFS) cannot fsync a folder: the rename
	 * itself is what makes the marker whole. */
	return rc == 0 || errno == EINVAL || errno == EROFS ? 0 : -1;
}

int watch_marker_write(const char *dir, const char *watch, const char *file, const char *content,
                       char *errbuf, size_t errbuf_size)
{
	static atomic_uint seq;
	char top[PATH_MAX], folder[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
	size_t len = strlen(content);
	int fd, err;

	if (len > WATCH_MARKER_CONTENT_MAX)
		len = WATCH_MARKER_CONTENT_MAX;
	if (snprintf(top, sizeof(top), "%s/.sluice", dir) >= (int)sizeof(top) ||
	    watch_marker_path(folder, sizeof(folder), dir, watch, NULL) != 0 ||
	    watch_marker_path(path, sizeof(path), dir, watch, file) != 0 ||
	    snprintf(tmp, sizeof(tmp), "%s/.tmp-%ld-%u", folder, (long)getpid(),
	             atomic_fetch_add(&seq, 1)) >= (int)sizeof(tmp))
		return err_set(errbuf, errbuf_size, -1, "%s/.sluice/%s/%s: path too long", dir,
		               watch, file);
	if (mkdir_ok(top) != 0)
		return err_set(errbuf, errbuf_size, -1, "%s: %s", top, strerror(errno));
	if (mkdir_ok(folder) != 0)
		return err_set(errbuf, errbuf_size, -1, "%s: %s", folder, strerror(errno));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return err_set(errbuf, errbuf_size, -1, "%s: %s", folder, strerror(errno));
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, content + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? errno : EIO;
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		err = errno;
		goto fail;
	}
	if (close(fd) != 0) {
		err = errno;
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		err = errno;
		goto fail;
	}
	if (fsync_dir(folder) != 0)
		return err_set(errbuf, errbuf_size, -1, "%s: fsync: %s", folder, strerror(errno));
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return err_set(errbuf, errbuf_size, -1, "%s: %s", path, strerror(err));
}
