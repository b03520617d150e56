/* text_impl.h - private: small helpers on text shared by the library's
 * parsers (http_query.c, json_scan.c). */
#ifndef STORE_TEXT_IMPL_H
#define STORE_TEXT_IMPL_H

/* The value of the hexadecimal digit c, -1 when c is not one. */
static inline int
text_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
