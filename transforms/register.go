package transforms

import (
	"context"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/io/parquetio"
)

func init() {
	register.DoFn4x1[context.Context, *sdf.LockRTracker, string, func(TextRow), error](&ReadTextFn{})
	register.DoFn4x1[context.Context, *sdf.LockRTracker, string, func(TokenRow), error](&ReadTokensFn{})
	register.DoFn5x0[context.Context, TextRow, func(parquetio.TokenResult), func(TokenizeFailure), func(batch.Observation)](&TokenizeFn{})
	register.DoFn5x0[context.Context, TokenRow, func(parquetio.TextResult), func(DetokenizeFailure), func(batch.Observation)](&DetokenizeFn{})
	register.DoFn1x1[parquetio.TokenResult, error](&WriteTokenResultsFn{})
	register.DoFn1x1[parquetio.TextResult, error](&WriteTextResultsFn{})
	register.DoFn1x1[TokenizeFailure, error](&WriteTokenizeErrorsFn{})
	register.DoFn1x1[DetokenizeFailure, error](&WriteDetokenizeErrorsFn{})
	register.DoFn1x1[batch.Stats, error](&WriteStatsFn{})
	register.Combiner3[batch.Accumulator, batch.Observation, batch.Stats](&StatsFn{})
	register.DoFn4x1[context.Context, *sdf.LockRTracker, string, func(RequestRow), error](&ReadRequestsFn{})
	register.DoFn5x0[context.Context, RequestRow, func(Answer), func(InferFailure), func(batch.Observation)](&InferFn{})
	register.DoFn1x1[Answer, error](&WriteAnswersFn{})
	register.DoFn1x1[InferFailure, error](&WriteInferFailuresFn{})
	register.DoFn3x0[context.Context, TextRow, func(TextRow)](&SkipDoneTextFn{})
	register.DoFn3x0[context.Context, TokenRow, func(TokenRow)](&SkipDoneTokensFn{})
	register.DoFn3x0[context.Context, RequestRow, func(RequestRow)](&SkipDoneRequestsFn{})
	register.Emitter1[RequestRow]()
	register.Emitter1[Answer]()
	register.Emitter1[InferFailure]()
	register.Emitter1[TextRow]()
	register.Emitter1[TokenRow]()
	register.Emitter1[parquetio.TokenResult]()
	register.Emitter1[parquetio.TextResult]()
	register.Emitter1[TokenizeFailure]()
	register.Emitter1[DetokenizeFailure]()
	register.Emitter1[batch.Observation]()
	for _, t := range []reflect.Type{
		reflect.TypeFor[TextRow](), reflect.TypeFor[TokenRow](), reflect.TypeFor[TokenizeFailure](),
		reflect.TypeFor[DetokenizeFailure](), reflect.TypeFor[parquetio.TokenResult](), reflect.TypeFor[parquetio.TextResult](),
		reflect.TypeFor[batch.Observation](), reflect.TypeFor[batch.Accumulator](), reflect.TypeFor[batch.Stats](),
		reflect.TypeFor[RequestRow](), reflect.TypeFor[Answer](), reflect.TypeFor[InferFailure](),
	} {
		beam.RegisterType(t)
	}
}
