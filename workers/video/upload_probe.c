/* upload_probe.c -- is an upload a video? See upload_probe.h. */
#include "upload_probe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#define IO_BUF 65536
/* av_probe_input_buffer2 refuses a smaller bound (PROBE_BUF_MIN); a
 * shorter file just ends the probe early. */
#define PROBE_MIN 2048

/* The first len bytes of fd, as an AVIOContext reads them. */
struct prefix {
	int fd;
	int64_t pos, len;
};

static int read_prefix(void *opaque, uint8_t *buf, int size)
{
	struct prefix *p = opaque;
	int64_t left = p->len - p->pos;
	ssize_t n;

	if (left <= 0)
		return AVERROR_EOF;
	if ((int64_t)size > left)
		size = (int)left;
	do
		n = pread(p->fd, buf, (size_t)size, (off_t)p->pos);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return AVERROR(errno);
	if (n == 0)
		return AVERROR_EOF;
	p->pos += n;
	return (int)n;
}

static int64_t seek_prefix(void *opaque, int64_t offset, int whence)
{
	struct prefix *p = opaque;
	int64_t to;

	switch (whence & ~AVSEEK_FORCE) {
	case AVSEEK_SIZE:
		return p->len;
	case SEEK_SET:
		to = offset;
		break;
	case SEEK_CUR:
		to = p->pos + offset;
		break;
	case SEEK_END:
		to = p->len + offset;
		break;
	default:
		return AVERROR(EINVAL);
	}
	if (to < 0 || to > p->len)
		return AVERROR(EINVAL);
	p->pos = to;
	return to;
}

static int av_why(char *why, size_t size, int err)
{
	char msg[AV_ERROR_MAX_STRING_SIZE];

	av_strerror(err, msg, sizeof(msg));
	snprintf(why, size, "%s", msg);
	return -1;
}

int upload_probe_prefix(int fd, int64_t len, char *fmt, size_t fmt_size, char *why, size_t why_size)
{
	struct prefix p = {
	    .fd = fd, .pos = 0, .len = len < UPLOAD_PROBE_BYTES ? len : UPLOAD_PROBE_BYTES};
	const AVInputFormat *f = NULL;
	unsigned char *buf = av_malloc(IO_BUF);
	AVIOContext *io;
	int rc;

	fmt[0] = '\0';
	if (buf == NULL)
		return av_why(why, why_size, AVERROR(ENOMEM));
	io = avio_alloc_context(buf, IO_BUF, 0, &p, read_prefix, NULL, seek_prefix);
	if (io == NULL) {
		av_free(buf);
		return av_why(why, why_size, AVERROR(ENOMEM));
	}
	/* No name: the content alone decides (a text file called x.mp4 would
	 * otherwise pass on its extension). */
	rc = av_probe_input_buffer2(io, &f, "", NULL, 0,
	                            (unsigned int)(p.len > PROBE_MIN ? p.len : PROBE_MIN));
	av_freep(&io->buffer);
	avio_context_free(&io);
	if (rc < 0)
		return av_why(why, why_size, rc);
	if (f == NULL)
		return av_why(why, why_size, AVERROR_INVALIDDATA);
	snprintf(fmt, fmt_size, "%s", f->name);
	return 0;
}

int upload_probe_file(const char *path, char *why, size_t why_size)
{
	AVFormatContext *ctx = NULL;
	AVDictionary *opts = NULL;
	unsigned video = 0, audio = 0, other = 0;
	int rc;

	/* The file alone: a playlist (HLS, concat) must not make the watcher
	 * fetch anything else. */
	if (av_dict_set(&opts, "protocol_whitelist", "file", 0) < 0)
		return av_why(why, why_size, AVERROR(ENOMEM));
	rc = avformat_open_input(&ctx, path, NULL, &opts);
	av_dict_free(&opts);
	if (rc < 0)
		return av_why(why, why_size, rc);
	rc = avformat_find_stream_info(ctx, NULL);
	if (rc < 0) {
		avformat_close_input(&ctx);
		return av_why(why, why_size, rc);
	}
	for (unsigned i = 0; i < ctx->nb_streams; i++) {
		const AVStream *s = ctx->streams[i];

		if (s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
		    !(s->disposition & AV_DISPOSITION_ATTACHED_PIC))
			video++;
		else if (s->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
			audio++;
		else
			other++;
	}
	avformat_close_input(&ctx);
	if (video == 0) {
		snprintf(why, why_size, "no video stream (FFmpeg found %u audio, %u other)", audio,
		         other);
		return -1;
	}
	return 0;
}
