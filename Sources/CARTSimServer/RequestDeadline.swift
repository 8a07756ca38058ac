import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request has not fully arrived `timeout` after the connection
/// opened or after the previous response was sent: slow clients (a header byte a second, a
/// body that trickles) and idle keep-alive connections cannot hold a connection for longer.
/// The clock stops while a complete request is being answered.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPRequestPart
  typealias InboundOut = HTTPRequestPart
  typealias OutboundIn = HTTPResponsePart
  typealias OutboundOut = HTTPResponsePart

  let timeout: TimeAmount
  private var deadline: Scheduled<Void>?
  /// Whether the current request has been answered (an early 4xx before its body was read):
  /// then the end of its body must not stop the clock the answer started for the next one.
  private var answered = false

  init(timeout: TimeAmount) { self.timeout = timeout }

  func handlerAdded(context: ChannelHandlerContext) { arm(context) }
  func handlerRemoved(context: ChannelHandlerContext) { disarm() }

  func channelInactive(context: ChannelHandlerContext) {
    disarm()
    context.fireChannelInactive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head: answered = false
    case .end: if !answered { disarm() }
    case .body: break
    }
    context.fireChannelRead(data)
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    if case .end = unwrapOutboundIn(data) {
      answered = true
      arm(context)
    }
    context.write(data, promise: promise)
  }

  private func arm(_ context: ChannelHandlerContext) {
    disarm()
    let channel = context.channel
    deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
  }

  private func disarm() {
    deadline?.cancel()
    deadline = nil
  }
}
